/**
 * /openapi.json and /docs (Swagger UI from the swagger-ui-dist package, served from memory).
 * Nothing the page loads or calls leaves this server: no CDN, no fonts, no validator badge (Swagger
 * UI's default sends the document to validator.swagger.io from any host but localhost), no source
 * maps; a Content-Security-Policy holds the page to its own origin as a second line of defence.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { DEFAULT_STREAM_WINDOW } from '../../common/defaults.js';
import { defineRoute, type RouteSpec } from '../route.js';

const require = createRequire(import.meta.url);
// Only the folder: the package's index would load the whole UI bundle into the server.
const SWAGGER_DIR: string = require('swagger-ui-dist/absolute-path.js')();

const ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
};

/** Swagger UI's start, as a file: the policy allows no inline script. BaseLayout: no top bar (its
 * logo links to swagger.io and its box loads any URL). validatorUrl null: no validator badge. */
const INIT = `window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
  validatorUrl: null,
});
`;

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Behaviour anomaly backend — API</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
  <link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>
`;

/** Own origin only; Swagger UI needs inline styles and data: images (its icons). */
export const DOCS_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'self'",
].join('; ');

/** The shape of the model's input, for an /behavior/analyze example that the model accepts. */
export interface DocsModel {
  /** Frames per window; 0 = any (the example then has the streams' default window). */
  windowSize: number;
  featureDim: number;
}

/** One window of zeros in the model's shape: "Try it out" on /behavior/analyze answers 200. */
export function analyzeExample(model: DocsModel): { frames: { index: number; features: number[] }[] } {
  const frames = model.windowSize || DEFAULT_STREAM_WINDOW;
  return { frames: Array.from({ length: frames }, (_, index) => ({ index, features: new Array<number>(model.featureDim).fill(0) })) };
}

/** A bundled file without its source-map comment (the map is not served). */
function asset(file: string): Buffer {
  const bytes = readFileSync(join(SWAGGER_DIR, file));
  if (!file.endsWith('.js') && !file.endsWith('.css')) return bytes;
  return Buffer.from(bytes.toString('utf8').replace(/\n?\/[/*][#@] sourceMappingURL=[^\n]*\s*$/, '\n'));
}

/** `openApi` is called once, after every route is known. */
export function docsRoutes(openApi: () => unknown, model?: DocsModel): RouteSpec<any, any>[] {
  let openApiText: string | null = null;
  const document = () => {
    const doc = openApi() as { components?: { schemas?: Record<string, Record<string, unknown>> } };
    const analyze = doc.components?.schemas?.AnalyzeRequest;
    if (analyze && model) analyze.examples = [analyzeExample(model)];
    return JSON.stringify(doc);
  };
  const files: [string, string, Buffer][] = Object.entries(ASSETS).map(([file, type]) => [file, type, asset(file)]);
  files.push(['init.js', 'text/javascript; charset=utf-8', Buffer.from(INIT)]);
  const assetRoutes = files.map(([file, contentType, bytes]) => defineRoute({
    method: 'GET',
    paths: [`/docs/${file}`],
    name: 'docs_asset',
    summary: file,
    undocumented: true,
    responses: { 200: { description: file, contentType } },
    handler: () => ({ raw: bytes, contentType, headers: { 'Cache-Control': 'public, max-age=86400' } }),
  }));
  return [
    defineRoute({
      method: 'GET',
      paths: ['/openapi.json'],
      name: 'openapi',
      summary: 'OpenAPI 3.1 description of this API',
      tags: ['docs'],
      responses: { 200: { description: 'The OpenAPI document' } },
      handler: () => ({ raw: (openApiText ??= document()) }),
    }),
    defineRoute({
      method: 'GET',
      paths: ['/docs'],
      name: 'docs',
      summary: 'Swagger UI',
      tags: ['docs'],
      responses: { 200: { description: 'HTML page', contentType: 'text/html; charset=utf-8' } },
      handler: () => ({ raw: PAGE, contentType: 'text/html; charset=utf-8', headers: { 'Content-Security-Policy': DOCS_CSP } }),
    }),
    ...assetRoutes,
  ];
}
