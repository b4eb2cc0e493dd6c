#!/bin/sh
# The steps of examples/Dockerfile as a plain script: a guarded application venv in an image.
#
# Run by the Dockerfile's build stage (IMAGE_ROOT=/), and for real by
# tests/test_examples.py against a temporary directory standing in for the image root.
# Every path below is under $IMAGE_ROOT; the guard records absolute paths, so the final
# image must hold the venv at exactly the path it was guarded at.
#
#   PYTHON        base interpreter of the app venv; it must be readable by the runtime user
#                 (default: python3)
#   PIP           a pip that installs into another interpreter with --python (pip >= 22.3);
#                 the app venv gets no pip of its own (default: python3 -m pip)
#   PTHGUARD      the pthguard command; it lives in a build-only tool venv (default: pthguard)
#   REQUIREMENTS  the hash-pinned lock (default: requirements.txt)
#   PIP_OPTIONS   more pip install options (e.g. --no-index --find-links wheels/)
#   SIGNING_KEY   private key: the BuildKit secret (default: /run/secrets/pthguard_key);
#                 PTHGUARD_PASSPHRASE or --passphrase-file as for `pthguard sign`
#   SIGNATURE     instead of signing here: a detached signature of the manifest made by an
#                 earlier run (STEPS="venv deps snapshot"; `pthguard sign --detached`,
#                 `pthguard sign-payload` or `ssh-keygen -Y sign -n pthguard` offline)
#   PUBLIC_KEY    trust anchor the manifest must be signed by (default: pthguard.pub)
#   APPROVALS     a reviewed approvals file (pthguard-approvals.txt: one `sha256:HEX name
#                 # reason` per line) for startup code that is neither path-only nor known
#                 legitimate; without one, such code fails the build at the snapshot step
#   RUNTIME_USER, RUNTIME_GROUP  who runs the app (default: app, app)
#   SMOKE         code the runtime user runs as a last check (default: pass)
#   STEPS         which steps to run, in order (default: all of them):
#                 venv deps snapshot sign guard lockdown smoke
set -eu

IMAGE_ROOT=${IMAGE_ROOT:-/}
PYTHON=${PYTHON:-python3}
PIP=${PIP:-python3 -m pip}
PTHGUARD=${PTHGUARD:-pthguard}
REQUIREMENTS=${REQUIREMENTS:-requirements.txt}
PIP_OPTIONS=${PIP_OPTIONS:-}
SIGNING_KEY=${SIGNING_KEY:-/run/secrets/pthguard_key}
SIGNATURE=${SIGNATURE:-}
PUBLIC_KEY=${PUBLIC_KEY:-pthguard.pub}
APPROVALS=${APPROVALS:-}
RUNTIME_USER=${RUNTIME_USER:-app}
RUNTIME_GROUP=${RUNTIME_GROUP:-app}
SMOKE=${SMOKE:-pass}
STEPS=${STEPS:-venv deps snapshot sign guard lockdown smoke}

APP=${IMAGE_ROOT%/}/opt/app
VENV=$APP/venv
APP_PYTHON=$VENV/bin/python
MANIFEST=$APP/pthguard-manifest.json

say() { printf 'image-build: %s\n' "$*" >&2; }

for step in $STEPS; do
  case $step in
  venv)
    say "venv $VENV (no pip inside: nothing in the image can pip install)"
    mkdir -p "$APP"
    "$PYTHON" -m venv --without-pip "$VENV"
    ;;
  deps)
    say "hash-pinned install from $REQUIREMENTS"
    # shellcheck disable=SC2086  # PIP and PIP_OPTIONS are lists of words
    $PIP --python "$APP_PYTHON" install --require-hashes --only-binary :all: \
      --no-cache-dir --disable-pip-version-check $PIP_OPTIONS -r "$REQUIREMENTS"
    # every package exactly pinned with a sha256, and nothing installed beyond the lock
    $PTHGUARD audit-lock "$REQUIREMENTS" --python "$APP_PYTHON"
    ;;
  snapshot)
    say "snapshot $MANIFEST (new startup code needs an approval by hash: the build fails otherwise)"
    if [ -n "$APPROVALS" ]; then
      $PTHGUARD snapshot --python "$APP_PYTHON" -o "$MANIFEST" --expires 365d --approvals "$APPROVALS"
    else
      $PTHGUARD snapshot --python "$APP_PYTHON" -o "$MANIFEST" --expires 365d
    fi
    ;;
  sign)
    if [ -n "$SIGNATURE" ]; then
      say "attach the external signature $SIGNATURE"
      $PTHGUARD attach "$MANIFEST" "$SIGNATURE" --trust "$PUBLIC_KEY"
    else
      say "sign with $SIGNING_KEY"
      $PTHGUARD sign "$MANIFEST" --key "$SIGNING_KEY"
    fi
    ;;
  guard)
    say "install the gate"
    $PTHGUARD install --python "$APP_PYTHON" --manifest "$MANIFEST" --trust "$PUBLIC_KEY"
    # a stable name for the sealed launcher, outside the venv, where no wheel writes (it
    # lives in the gate's state directory; never link it into the venv's bin/)
    launcher=$($PTHGUARD launcher --python "$APP_PYTHON")
    ln -sfn "${launcher#"$APP"/}" "$APP/python-guarded"
    ;;
  lockdown)
    say "root-owned, read-only venv (site-packages, the gate, its seal and trust anchors)"
    chown -R 0:0 "$APP"
    chmod -R a-w "$VENV/lib" "$MANIFEST"
    ;;
  smoke)
    say "a guarded start as $RUNTIME_USER"
    setpriv --reuid="$RUNTIME_USER" --regid="$RUNTIME_GROUP" --clear-groups -- \
      "$APP_PYTHON" -c "$SMOKE"
    ;;
  *)
    say "unknown step $step"
    exit 2
    ;;
  esac
done
