# Container image of the face_match function (template.yaml: FaceMatchFunction, PackageType Image).
# `sam build` builds it with the repository root as context, and so does `python -m infra.images
# build`, which first puts the weights named by the settings into build/models/. The context is what
# .dockerignore lets through: pyproject.toml, build/models/ and the project packages.
# The handler comes from ImageConfig.Command in template.yaml; CMD names the same one for `docker run`.

# What this machine cannot fetch comes in as build arguments whose defaults are the production ones:
# BASE_IMAGE is the AWS Lambda Python 3.11 image (python -m infra.images build --base local builds a
# stand-in from infra/docker/local-base/); FACE_EMBEDDER_WEIGHTS is below.
ARG BASE_IMAGE=public.ecr.aws/lambda/python:3.11

# --- The context sorted out: project packages, third-party requirements, weights ---------------
FROM ${BASE_IMAGE} AS context
COPY . /context/
WORKDIR /context
RUN mkdir -p /task /models \
 && for package in */; do if [ -f "${package}__init__.py" ]; then cp -r "$package" /task/; fi; done \
 && if [ -d build/models ]; then cp -r build/models/. /models/; fi \
 && if [ ! -d /models/face ]; then echo "build/models/face/ is missing: python -m infra.images models puts the weights there" >&2; exit 1; fi \
 && python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; print(*p['dependencies'], *p['optional-dependencies']['cloud'], sep='\n')" > /requirements.txt

# --- The function ---------------------------------------------------------------------------------
FROM ${BASE_IMAGE}
# Third-party packages first, in a layer reused until pyproject.toml's requirements change.
# onnxruntime 1.16.3 is the newest release with wheels for Amazon Linux 2 (glibc 2.26), the AWS
# image's system, and it is built against NumPy 1.
COPY --from=context /requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir --only-binary=:all: -r /tmp/requirements.txt "numpy<2" && rm /tmp/requirements.txt

# Weights are baked in, so a cold start never downloads; ModelsDir in template.yaml is /opt/models.
# The face detector and any embedder weights come from build/models/face/. FACE_EMBEDDER_WEIGHTS:
# "deepface" (production) also fetches DeepFace's ArcFace weights (arcface_weights.h5, the template's
# default FaceEmbedderWeights) with DeepFace's own download code; "build-context" takes only what
# build/models/face/ holds (locally the ONNX ArcFace model, FaceEmbedder=onnx).
ENV TF_USE_LEGACY_KERAS=1
COPY --from=context /models/face/ /opt/models/face/
# Door anti-spoofing models (python -m infra.models.convert_antispoof, staged by infra.images models).
COPY --from=context /models/antispoof/ /opt/models/antispoof/
ENV CLASSSIGHT_LIVENESS_MODEL_PATHS=/opt/models/antispoof/2.7_80x80_MiniFASNetV2.onnx,/opt/models/antispoof/4_0_0_80x80_MiniFASNetV1SE.onnx
ARG FACE_EMBEDDER_WEIGHTS=deepface
RUN case "$FACE_EMBEDDER_WEIGHTS" in \
      deepface) DEEPFACE_HOME=/tmp/deepface python -c "from deepface import DeepFace; DeepFace.build_model('ArcFace')" \
        && mv /tmp/deepface/.deepface/weights/arcface_weights.h5 /opt/models/face/ && rm -rf /tmp/deepface ;; \
      build-context) ;; \
      *) echo "FACE_EMBEDDER_WEIGHTS must be deepface or build-context" >&2; exit 1 ;; \
    esac

COPY --from=context /task/ ${LAMBDA_TASK_ROOT}/
CMD ["cloud_functions.face_match.handler.lambda_handler"]
