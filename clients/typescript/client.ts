// A tiny typed fetch wrapper over the API. Every path, method, parameter,
// body and answer is typed from schema.d.ts, which `make api-types`
// generates from api/openapi.yaml with openapi-typescript. No runtime
// dependency: only fetch.

import type { components, paths } from "./schema";

export type Schemas = components["schemas"];
/** An error answer (application/problem+json, RFC 9457). Branch on `code`. */
export type Problem = Schemas["Problem"];
/** One refused field of an `invalid_field` or `unknown_field` problem. */
export type FieldError = Schemas["FieldError"];

type Method = "get" | "put" | "post" | "patch" | "delete";
type Path = keyof paths;
/** The paths that have an operation for method M. */
export type PathsWith<M extends Method> = {
  [P in Path]: paths[P] extends Record<M, object> ? P : never;
}[Path];
type Op<P extends Path, M extends Method> = paths[P] extends Record<M, infer O> ? O : never;

type Params<O> = O extends { parameters: infer Q } ? Q : never;
type PathParams<O> = Params<O> extends { path: infer X } ? X : undefined;
type QueryParams<O> = Params<O> extends { query?: infer X } ? X : undefined;
type Body<O> = O extends { requestBody: { content: { "application/json": infer B } } } ? B : undefined;
type JSONOf<R> = R extends { content: { "application/json": infer T } } ? T : undefined;
type SuccessCode = 200 | 201 | 202 | 204;
type Responses<O> = O extends { responses: infer R } ? R : never;
/** The body of an operation's success answer (undefined for 204). */
export type Success<O> = { [C in keyof Responses<O> & SuccessCode]: JSONOf<Responses<O>[C]> }[keyof Responses<O> &
  SuccessCode];

/** What a call takes; each part is required exactly when the document says so. */
export type Request<O> = (PathParams<O> extends undefined ? { path?: undefined } : { path: PathParams<O> }) &
  (QueryParams<O> extends undefined ? { query?: undefined } : { query?: QueryParams<O> }) &
  (Body<O> extends undefined ? { body?: undefined } : { body: Body<O> }) & {
    /** Extra headers, e.g. If-Match with an ETag. */
    headers?: Record<string, string>;
    signal?: AbortSignal;
  };

/** An answer: the typed body on success, the problem otherwise. */
export type Result<T> =
  | { ok: true; status: number; data: T; response: Response }
  | { ok: false; status: number; problem: Problem; response: Response };

export interface ClientOptions {
  /** Where the API is, e.g. "http://localhost:7071" (the paths start with /api). */
  baseUrl: string;
  /** The language of problem details: fi (the default), sv or en. */
  language?: "fi" | "sv" | "en";
  /** For tests or other runtimes; the global fetch by default. */
  fetch?: typeof fetch;
}

export class Client {
  /** The session token; signIn sets it, signOut clears it. */
  token: string | undefined;
  readonly #opts: ClientOptions;

  constructor(opts: ClientOptions) {
    this.#opts = opts;
  }

  get<P extends PathsWith<"get">>(path: P, req?: Request<Op<P, "get">>) {
    return this.request<Success<Op<P, "get">>>("GET", path, req);
  }
  post<P extends PathsWith<"post">>(path: P, req?: Request<Op<P, "post">>) {
    return this.request<Success<Op<P, "post">>>("POST", path, req);
  }
  put<P extends PathsWith<"put">>(path: P, req: Request<Op<P, "put">>) {
    return this.request<Success<Op<P, "put">>>("PUT", path, req);
  }
  patch<P extends PathsWith<"patch">>(path: P, req: Request<Op<P, "patch">>) {
    return this.request<Success<Op<P, "patch">>>("PATCH", path, req);
  }
  delete<P extends PathsWith<"delete">>(path: P, req?: Request<Op<P, "delete">>) {
    return this.request<Success<Op<P, "delete">>>("DELETE", path, req);
  }

  /**
   * Signs in with the password. The answer is either a session, whose
   * token is kept for the calls that follow, or (for an account with a
   * second factor) `secondFactor`: a challenge and its methods, to finish
   * with `secondStep`.
   */
  async signIn(email: string, password: string) {
    const r = await this.post("/api/auth/login", { body: { email, password } });
    if (r.ok && "token" in r.data) this.token = r.data.token;
    return r;
  }

  /** Finishes a two-step sign-in and keeps the session token. */
  async secondStep(body: Request<Op<"/api/auth/login/second-factor", "post">>["body"]) {
    const r = await this.post("/api/auth/login/second-factor", { body });
    if (r.ok) this.token = r.data.token;
    return r;
  }

  /** Ends the session and forgets its token. */
  async signOut() {
    const r = await this.post("/api/auth/logout");
    this.token = undefined;
    return r;
  }

  async request<T>(
    method: string,
    template: string,
    req: { path?: unknown; query?: unknown; body?: unknown; headers?: Record<string, string>; signal?: AbortSignal } = {},
  ): Promise<Result<T>> {
    const params = (req.path ?? {}) as Record<string, unknown>;
    const path = template.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(String(params[name])));
    const url = new URL(path, this.#opts.baseUrl);
    for (const [k, v] of Object.entries((req.query ?? {}) as Record<string, unknown>)) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    const headers: Record<string, string> = { Accept: "application/json", "Accept-Language": this.#opts.language ?? "fi" };
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    if (req.body !== undefined) headers["Content-Type"] = "application/json";
    const response = await (this.#opts.fetch ?? fetch)(url, {
      method,
      headers: { ...headers, ...req.headers },
      body: req.body === undefined ? null : JSON.stringify(req.body),
      signal: req.signal,
    });
    if (response.ok) {
      const data = (response.status === 204 ? undefined : await response.json()) as T;
      return { ok: true, status: response.status, data, response };
    }
    return { ok: false, status: response.status, problem: await readProblem(response), response };
  }
}

/** Reads an error answer as a Problem; one that is not problem+json (a proxy's page) becomes code "internal". */
async function readProblem(response: Response): Promise<Problem> {
  if (response.headers.get("Content-Type")?.startsWith("application/problem+json")) {
    return (await response.json()) as Problem;
  }
  return { type: "about:blank", title: response.statusText, status: response.status, code: "internal" };
}

/** The field errors of a problem by field name, for showing beside each input. */
export function fieldErrors(problem: Problem): Record<string, FieldError[]> {
  const out: Record<string, FieldError[]> = {};
  for (const e of problem.errors ?? []) (out[e.field] ??= []).push(e);
  return out;
}
