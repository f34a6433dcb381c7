/**
 * /openapi.json and /docs (Swagger UI from the swagger-ui-dist package, served from memory:
 * no CDN, works offline).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { defineRoute, type RouteSpec } from '../route.js';

const require = createRequire(import.meta.url);
// Only the folder: the package's index would load the whole UI bundle into the server.
const SWAGGER_DIR: string = require('swagger-ui-dist/absolute-path.js')();

const ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'swagger-ui-standalone-preset.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
};

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
  <script src="/docs/swagger-ui-standalone-preset.js"></script>
  <script>
    window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true,
      presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset], layout: 'StandaloneLayout' });
  </script>
</body>
</html>
`;

/** `openApi` is called once, after every route is known. */
export function docsRoutes(openApi: () => unknown): RouteSpec<any, any>[] {
  let openApiText: string | null = null;
  const assetRoutes = Object.entries(ASSETS).map(([file, contentType]) => {
    const bytes = readFileSync(join(SWAGGER_DIR, file));
    return defineRoute({
      method: 'GET',
      paths: [`/docs/${file}`],
      name: 'docs_asset',
      summary: file,
      undocumented: true,
      responses: { 200: { description: file, contentType } },
      handler: () => ({ raw: bytes, contentType, headers: { 'Cache-Control': 'public, max-age=86400' } }),
    });
  });
  return [
    defineRoute({
      method: 'GET',
      paths: ['/openapi.json'],
      name: 'openapi',
      summary: 'OpenAPI 3.1 description of this API',
      tags: ['docs'],
      responses: { 200: { description: 'The OpenAPI document' } },
      handler: () => ({ raw: (openApiText ??= JSON.stringify(openApi())) }),
    }),
    defineRoute({
      method: 'GET',
      paths: ['/docs'],
      name: 'docs',
      summary: 'Swagger UI',
      tags: ['docs'],
      responses: { 200: { description: 'HTML page', contentType: 'text/html; charset=utf-8' } },
      handler: () => ({ raw: PAGE, contentType: 'text/html; charset=utf-8' }),
    }),
    ...assetRoutes,
  ];
}
