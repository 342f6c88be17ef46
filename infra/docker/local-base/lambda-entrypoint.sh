#!/bin/sh
# The entrypoint of the AWS Lambda base images: the handler (template.yaml's ImageConfig.Command, or
# the image's CMD) is the one argument; the runtime interface client polls AWS_LAMBDA_RUNTIME_API.
if [ $# -ne 1 ]; then
  echo "entrypoint requires the handler name to be the first argument" 1>&2
  exit 142
fi
export _HANDLER="$1"

RUNTIME_ENTRYPOINT=/var/runtime/bootstrap
if [ -z "${AWS_LAMBDA_RUNTIME_API}" ]; then
  if [ -x /usr/local/bin/aws-lambda-rie ]; then
    exec /usr/local/bin/aws-lambda-rie "$RUNTIME_ENTRYPOINT"
  fi
  echo "AWS_LAMBDA_RUNTIME_API is not set and this image has no runtime interface emulator;" \
    "give it a Lambda Runtime API (infra/images/runner.py does)" 1>&2
  exit 142
fi
exec "$RUNTIME_ENTRYPOINT"
