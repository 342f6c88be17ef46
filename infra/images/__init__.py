"""The function images: built as ``sam build`` builds them, run as Lambda runs them.

- :mod:`infra.images.functions` reads template.yaml's image functions (Metadata, ImageConfig) and
  checks that each image copies the project packages its handler imports.
- :mod:`infra.images.engine` drives podman or Docker; :mod:`infra.images.base` finds the AWS Lambda
  Python 3.11 base or makes a local stand-in; :mod:`infra.images.build` stages the weights into
  ``build/models/`` and builds (``python -m infra.images build``).
- :mod:`infra.images.runtime_api` serves the Lambda Runtime API; :mod:`infra.images.runner` starts an
  image's entrypoint against it as Lambda would (:class:`~infra.images.runner.FunctionContainer`).
- :mod:`infra.images.samples` stages each function's ``tests/events`` sample on a local stack and
  checks what the function did with it.
"""
