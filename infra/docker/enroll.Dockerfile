# Container image of the enroll function (template.yaml: PackageType Image, built by `sam build`).
# Build context: the repository root. The handler comes from ImageConfig.Command in template.yaml;
# the CMD below is the same, for `docker run` without SAM.
FROM public.ecr.aws/lambda/python:3.11

WORKDIR ${LAMBDA_TASK_ROOT}
COPY pyproject.toml README.md ./
COPY cloud_functions/ ./cloud_functions/
RUN pip install --no-cache-dir ".[cloud]" && rm -rf /root/.cache

# Weights are baked in (no download at cold start). Put the face weights in build/models/face/
# before building, e.g. `mkdir -p build/models && cp -r ../shared/models/face build/models/`.
# ModelsDir in template.yaml points the function at /opt/models.
COPY build/models/ /opt/models/
# DeepFace's ArcFace weights (the production embedder) are fetched by DeepFace's own download code
# at build time, so a cold start never downloads; FaceEmbedderWeights in template.yaml names them.
ENV DEEPFACE_HOME=/opt/deepface TF_USE_LEGACY_KERAS=1
RUN python -c "import shutil; from cloud_functions.core.faces.embedding import download_deepface_arcface_weights as fetch; shutil.copy(fetch(), '/opt/models/face/arcface_weights.h5')"

CMD ["cloud_functions.enroll.handler.lambda_handler"]
