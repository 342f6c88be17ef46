#!/usr/bin/env bash
# Refreshes the browser assets committed to the repository from the npm versions pinned in
# package.json / package-lock.json (run it after changing a version; tests and deployments use
# the committed copies and need no npm):
#   frontend_static/vendor/     Chart.js (the portal's course and student charts)
#   cloud_functions/api/docs_assets/  Swagger UI and ReDoc (the API's offline /docs and /redoc)
#   tests/browser/vendor/       axe-core (accessibility checks in the browser tests)
set -euo pipefail
cd "$(dirname "$0")/.."
npm ci --ignore-scripts --no-audit --no-fund >/dev/null
nm=node_modules
version() { node -p "require('./$nm/$1/package.json').version"; }

portal=frontend_static/vendor
docs=cloud_functions/api/docs_assets
tests=tests/browser/vendor
mkdir -p "$portal" "$docs" "$tests"

cp "$nm/chart.js/dist/chart.umd.min.js" "$portal/chart.umd.min.js"
cp "$nm/chart.js/LICENSE.md" "$portal/chart.js.LICENSE.md"

cp "$nm/swagger-ui-dist/swagger-ui-bundle.js" "$docs/swagger-ui-bundle.js"
cp "$nm/swagger-ui-dist/swagger-ui.css" "$docs/swagger-ui.css"
cp "$nm/swagger-ui-dist/favicon-32x32.png" "$docs/favicon-32x32.png"
cp "$nm/swagger-ui-dist/LICENSE" "$docs/swagger-ui.LICENSE"
cp "$nm/redoc/bundles/redoc.standalone.js" "$docs/redoc.standalone.js"
cp "$nm/redoc/LICENSE" "$docs/redoc.LICENSE"

cp "$nm/axe-core/axe.min.js" "$tests/axe.min.js"
cp "$nm/axe-core/LICENSE" "$tests/axe-core.LICENSE"

{
  echo "chart.js $(version chart.js) MIT"
} >"$portal/VERSIONS"
{
  echo "swagger-ui-dist $(version swagger-ui-dist) Apache-2.0"
  echo "redoc $(version redoc) MIT"
} >"$docs/VERSIONS"
echo "axe-core $(version axe-core) MPL-2.0" >"$tests/VERSIONS"
echo "vendored: $(cat "$portal/VERSIONS" "$docs/VERSIONS" "$tests/VERSIONS" | tr '\n' ';')"
