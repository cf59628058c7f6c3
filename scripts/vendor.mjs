// Copy the front-end assets the app serves from node_modules/ into app/static/vendor/.
// Zero dependencies. Usage: `npm ci && npm run vendor`, then review and commit the diff.
// Versions come from the installed packages' package.json, so directory names follow the lockfile.
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const modules = join(root, 'node_modules');
const out = join(root, 'app', 'static', 'vendor');

const versionOf = (pkg) => JSON.parse(readFileSync(join(modules, pkg, 'package.json'), 'utf8')).version;

// [package, manifest key, output dir prefix, files relative to the package root (files or whole dirs)]
const packages = [
  ['@gouvfr/dsfr', 'dsfr', 'dsfr', [
    // Keep the dist/ layout: the CSS refers to url(fonts/…), url(icons/…) and ../../icons/.
    ...['dsfr.min.css', 'dsfr.module.min.js', 'dsfr.nomodule.min.js', 'fonts', 'icons', 'favicon',
      'utility/icons/icons.min.css', 'artwork'].map((f) => ['dist/' + f, f]),
    ['LICENSE.md', 'LICENSE.md'], // CGU §19: keep the licence and notices
  ]],
  ['htmx.org', 'htmx', 'htmx', [['dist/htmx.min.js', 'htmx.min.js'], ['LICENSE', 'LICENSE']]],
  // Dashboard charts only (web components; the full bundle carries the Vue runtime once).
  ['@gouvfr/dsfr-chart', 'dsfr-chart', 'dsfr-chart', [
    ['dist/DSFRChart/DSFRChart.js', 'DSFRChart.js'], ['dist/DSFRChart/DSFRChart.css', 'DSFRChart.css'],
    ['LICENSE', 'LICENSE'],
  ]],
  // Used only by browser accessibility tests; never referenced by app templates.
  ['axe-core', 'axe-core', 'axe-core', [
    ['axe.min.js', 'axe.min.js'], ['LICENSE', 'LICENSE'], ['LICENSE-3RD-PARTY.txt', 'LICENSE-3RD-PARTY.txt'],
  ]],
];

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const manifest = {};
for (const [pkg, key, prefix, files] of packages) {
  const version = versionOf(pkg);
  const dest = join(out, `${prefix}-${version}`);
  for (const [from, to] of files) {
    const src = join(modules, pkg, from);
    if (!existsSync(src)) throw new Error(`missing ${pkg}/${from} — run \`npm ci\` first`);
    mkdirSync(dirname(join(dest, to)), { recursive: true });
    cpSync(src, join(dest, to), { recursive: true });
  }
  manifest[key] = version;
  console.log(`${pkg}@${version} -> ${dest.slice(root.length + 1)}`);
}

writeFileSync(join(out, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
console.log('wrote app/static/vendor/manifest.json', JSON.stringify(manifest));
