# Container image of the notify function (template.yaml: NotifyFunction, PackageType Image).
# `sam build` builds it with the repository root as context, and so does `python -m infra.images
# build`. The context is what .dockerignore lets through: pyproject.toml, build/models/ (no part of
# this image) and the project packages.
# The handler comes from ImageConfig.Command in template.yaml; CMD names the same one for `docker run`.

# What this machine cannot fetch comes in as build arguments whose defaults are the production ones:
# BASE_IMAGE is the AWS Lambda Python 3.11 image (python -m infra.images build --base local builds a
# stand-in from infra/docker/local-base/).
ARG BASE_IMAGE=public.ecr.aws/lambda/python:3.11

# --- The context sorted out: project packages, third-party requirements ------------------------
FROM ${BASE_IMAGE} AS context
COPY . /context/
WORKDIR /context
RUN mkdir -p /task \
 && for package in */; do if [ -f "${package}__init__.py" ]; then cp -r "$package" /task/; fi; done \
 && python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; print(*p['dependencies'], *p['optional-dependencies']['cloud'], sep='\n')" > /requirements.txt

# --- The function ---------------------------------------------------------------------------------
FROM ${BASE_IMAGE}
# Third-party packages first, in a layer reused until pyproject.toml's requirements change.
# onnxruntime 1.16.3 is the newest release with wheels for Amazon Linux 2 (glibc 2.26), the AWS
# image's system, and it is built against NumPy 1.
COPY --from=context /requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir --only-binary=:all: -r /tmp/requirements.txt "numpy<2" && rm /tmp/requirements.txt

COPY --from=context /task/ ${LAMBDA_TASK_ROOT}/
CMD ["cloud_functions.notify.handler.lambda_handler"]
