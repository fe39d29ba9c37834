// The API reference page for `make run`: api/openapi.yaml rendered by
// Redoc (its standalone bundle, from tools/node_modules), on loopback only.
// A separate little server rather than the handler: the binary that goes
// to Azure carries no page and no switch that could turn one on, the
// renderer's script needs a looser Content-Security-Policy than the API's
// `default-src 'none'`, and the page reads the working copy of the
// document on every load, so an edit shows at a reload without a rebuild.
//
// usage: node scripts/api-reference.mjs [port]   (default 7072)
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const port = Number(process.argv[2] ?? 7072);

const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Palvelumanuaali user administration API</title>
</head>
<body>
<redoc spec-url="/openapi.yaml" hide-download-button="false"></redoc>
<script src="/redoc.standalone.js"></script>
</body>
</html>
`;

const files = {
  "/": { type: "text/html; charset=utf-8", read: async () => page },
  "/openapi.yaml": { type: "application/yaml", read: () => readFile(root + "api/openapi.yaml") },
  "/redoc.standalone.js": {
    type: "text/javascript; charset=utf-8",
    read: () => readFile(root + "tools/node_modules/redoc/bundles/redoc.standalone.js"),
  },
};

createServer(async (req, res) => {
  const path = new URL(req.url ?? "/", "http://localhost").pathname;
  const file = files[path];
  if (req.method !== "GET" || !file) {
    res.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" }).end("not found\n");
    return;
  }
  try {
    const body = await file.read();
    res.writeHead(200, {
      "Content-Type": file.type,
      "Cache-Control": "no-store",
      // Everything from here: no fonts or scripts from elsewhere. Redoc
      // styles inline and searches in a blob: worker.
      "Content-Security-Policy":
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; worker-src 'self' blob:; frame-ancestors 'none'",
      "X-Content-Type-Options": "nosniff",
      "Referrer-Policy": "no-referrer",
    });
    res.end(body);
  } catch (err) {
    console.error(`api-reference: ${path}: ${err.code ?? err.message}`);
    res.writeHead(500, { "Content-Type": "text/plain; charset=utf-8" }).end("cannot read the file; see the terminal\n");
  }
}).listen(port, "127.0.0.1", () => {
  console.error(`api-reference: the API reference on http://localhost:${port}`);
});
