#!/usr/bin/env bash
# Copy the Foxglove JSON schemas sensekit writes from a pinned release of Foxglove's published
# schema package (npm @foxglove/schemas, which ships them in dist/jsonschema/index.js) into
# sensekit/log/foxglove/. The version and the tarball's integrity are pinned here and in
# sensekit/log/foxglove/__init__.py; tests/log/test_foxglove_schemas.py checks the copies.
set -euo pipefail
VERSION=2.1.0
INTEGRITY='sha512-Av19oG2AdRG5k/36iR/44bRrQB8fI7B5kad1gamXg9morMzklYlhl9+s578eXCR/V8RIeUo+zoUIf1UUt6gyZQ=='
SCHEMAS="LocationFix CompressedImage RawImage RawAudio PoseInFrame"
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "@foxglove/schemas@$VERSION" >/dev/null
tarball="foxglove-schemas-$VERSION.tgz"
got="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
[ "$got" = "$INTEGRITY" ] || { echo "integrity mismatch: $got" >&2; exit 1; }
tar xzf "$tarball"
for name in $SCHEMAS; do
  node -e "process.stdout.write(JSON.stringify(require('./package/dist/jsonschema/index.js')['$name'], null, 2) + '\n')" \
    > "$root/sensekit/log/foxglove/$name.json"
done
echo "copied $SCHEMAS from @foxglove/schemas@$VERSION"
