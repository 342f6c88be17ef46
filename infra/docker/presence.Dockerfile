# Container image of the presence function (template.yaml: PackageType Image, built by `sam build`).
# Build context: the repository root. The handler comes from ImageConfig.Command in template.yaml;
# the CMD below is the same, for `docker run` without SAM.
FROM public.ecr.aws/lambda/python:3.11

WORKDIR ${LAMBDA_TASK_ROOT}
COPY pyproject.toml README.md ./
COPY cloud_functions/ ./cloud_functions/
RUN pip install --no-cache-dir ".[cloud]" && rm -rf /root/.cache

CMD ["cloud_functions.presence.handler.lambda_handler"]
