// What a frontend does first: sign in, list users, show a refused form.
// `make test` type-checks this file (tsc --noEmit) against the generated
// types, so a change to the contract that breaks it fails the build.

import { Client, fieldErrors, type Problem } from "./client";

export async function example(): Promise<void> {
  const api = new Client({ baseUrl: "http://localhost:7071", language: "en" });

  const password = await api.signIn("maija.meikalainen@tampere.fi", "kolme iloista kirahvia laulaa");
  if (!password.ok) {
    // A wrong password, an unknown email and a locked account look alike.
    if (password.problem.code === "invalid_credentials") console.log("Wrong email or password.");
    return;
  }
  let signIn = password.data;
  if ("secondFactor" in signIn) {
    // An admin or primary user (or anyone who enrolled a factor): the
    // second step, here with the code of an authenticator app.
    const { challenge, methods } = signIn.secondFactor;
    if (!methods.includes("totp")) return;
    const step = await api.secondStep({ challenge, totp: "123456" });
    if (!step.ok) return; // any failure is invalid_credentials
    signIn = step.data;
  }
  console.log(`Signed in as ${signIn.user.firstName}; session ends ${signIn.expiresAt}`);

  const page = await api.get("/api/users", { query: { status: "active", sort: "name", limit: 20 } });
  if (page.ok) {
    for (const user of page.data.items) console.log(user.id, user.lastName, user.role);
    if (page.data.nextCursor) console.log("more: pass nextCursor back as cursor");
  }

  const one = await api.get("/api/users/{id}", { path: { id: "0b6f3c2e-8d1a-4f5b-9c7e-2a4d6e8f0a1c" } });
  if (one.ok) console.log(one.data.email, one.response.headers.get("ETag"));

  // An invitation with a bad email: a 400 problem with field errors.
  const invite = await api.post("/api/users", {
    body: { email: "not an email", firstName: "Maija", lastName: "Meikäläinen", role: "editor", organizationId: signIn.user.organizationId },
  });
  if (!invite.ok) show(invite.problem);
}

function show(problem: Problem): void {
  switch (problem.code) {
    case "invalid_field":
    case "unknown_field":
      for (const [field, errors] of Object.entries(fieldErrors(problem))) {
        console.log(field, errors.map((e) => `${e.code}: ${e.detail ?? ""}`).join("; "));
      }
      break;
    case "rate_limited":
    case "unavailable":
      console.log("Try again shortly.", problem.requestId);
      break;
    default:
      console.log(problem.detail ?? problem.title, problem.requestId);
  }
}

// What the types refuse: tsc fails if any of these stops being an error
// (for instance if the generated types decayed to `any`).
export function refused(api: Client): void {
  // @ts-expect-error: a path the API does not have
  void api.get("/api/userz");
  // @ts-expect-error: the path's id is required
  void api.get("/api/users/{id}", {});
  // @ts-expect-error: a filter listUsers does not take
  void api.get("/api/users", { query: { password: "x" } });
  // @ts-expect-error: a role the API does not know
  void api.post("/api/users", { body: { email: "a@b.fi", firstName: "A", lastName: "B", organizationId: "x", role: "root" } });
  // @ts-expect-error: login has no GET
  void api.get("/api/auth/login");
}
