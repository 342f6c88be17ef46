# Container image of the body_match function (template.yaml: PackageType Image, built by `sam build`).
# Build context: the repository root. The handler comes from ImageConfig.Command in template.yaml;
# the CMD below is the same, for `docker run` without SAM.
FROM public.ecr.aws/lambda/python:3.11

WORKDIR ${LAMBDA_TASK_ROOT}
COPY pyproject.toml README.md ./
COPY cloud_functions/ ./cloud_functions/
RUN pip install --no-cache-dir ".[cloud]" && rm -rf /root/.cache

# Weights are baked in (no download at cold start). Put the face and re-id weights in
# build/models/face/ and build/models/reid/ before building, e.g.
# `mkdir -p build/models && cp -r ../shared/models/face ../shared/models/reid build/models/`.
# ModelsDir in template.yaml points the function at /opt/models.
COPY build/models/ /opt/models/

CMD ["cloud_functions.body_match.handler.lambda_handler"]
