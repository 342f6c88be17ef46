"""The template's container-image functions, read the way ``sam build`` reads them.

For each ``AWS::Serverless::Function`` with ``PackageType: Image``, SAM builds
``Metadata.Dockerfile`` with ``Metadata.DockerContext`` as the build context and
``Metadata.DockerBuildArgs`` as build arguments, and tags the result
``<logical id in lower case>:<Metadata.DockerTag>``; Lambda then starts the image's entrypoint
with ``ImageConfig.Command`` in place of the image's ``CMD``.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.local_stack.template import DEFAULT_TEMPLATE_PATH, REPO_ROOT, TemplateError, load_template_document


@dataclass(frozen=True)
class ImageFunction:
    """One image function of the template, as SAM builds it."""

    logical_id: str
    dockerfile: Path
    """The Dockerfile, relative to the build context."""
    context: Path
    """The build context, absolute."""
    tag: str
    command: tuple[str, ...]
    build_args: dict[str, str] = field(default_factory=dict)

    @property
    def image(self) -> str:
        """The local image name ``sam build`` gives it, e.g. ``facematchfunction:python3.11-v1``."""
        return f"{self.logical_id.lower()}:{self.tag}"

    @property
    def handler(self) -> str:
        """The dotted handler path Lambda imports (``ImageConfig.Command[0]``)."""
        return self.command[0]

    @property
    def name(self) -> str:
        """The function's short name: its Dockerfile's (``face_match``)."""
        return self.dockerfile.name.removesuffix(".Dockerfile")

    @property
    def dockerfile_path(self) -> Path:
        """The Dockerfile, absolute."""
        return self.context / self.dockerfile


def image_functions(template_path: Path = DEFAULT_TEMPLATE_PATH) -> dict[str, ImageFunction]:
    """Every image function of the template, by logical id, in template order."""
    document = load_template_document(template_path)
    functions = {}
    for logical_id, body in document["Resources"].items():
        if not isinstance(body, dict) or body.get("Type") != "AWS::Serverless::Function":
            continue
        properties = body.get("Properties", {})
        if properties.get("PackageType") != "Image":
            continue
        functions[logical_id] = _image_function(logical_id, body, template_path.parent)
    return functions


def _image_function(logical_id: str, body: dict[str, Any], template_dir: Path) -> ImageFunction:
    metadata = body.get("Metadata", {})
    missing = [key for key in ("Dockerfile", "DockerContext", "DockerTag") if not metadata.get(key)]
    if missing:
        raise TemplateError(f"{logical_id}: image function without Metadata {', '.join(missing)}")
    command = body["Properties"].get("ImageConfig", {}).get("Command")
    if not command or not all(isinstance(part, str) for part in command):
        raise TemplateError(f"{logical_id}: image function without ImageConfig.Command")
    build_args = metadata.get("DockerBuildArgs", {})
    return ImageFunction(
        logical_id=logical_id,
        dockerfile=Path(str(metadata["Dockerfile"])),
        context=(template_dir / str(metadata["DockerContext"])).resolve(),
        tag=str(metadata["DockerTag"]),
        command=tuple(command),
        build_args={str(key): str(value) for key, value in build_args.items()},
    )


def select_functions(
    names: list[str] | None, template_path: Path = DEFAULT_TEMPLATE_PATH
) -> list[ImageFunction]:
    """The functions named by logical id (``FaceMatchFunction``) or short name (``face_match``).

    None or an empty list selects every image function.
    """
    functions = image_functions(template_path)
    if not names:
        return list(functions.values())
    by_name = {f.name: f for f in functions.values()} | functions
    unknown = [name for name in names if name not in by_name]
    if unknown:
        known = ", ".join(f"{f.name} ({f.logical_id})" for f in functions.values())
        raise TemplateError(f"no image function {', '.join(unknown)}; the template has {known}")
    return [by_name[name] for name in names]


def dockerfile_cmd(dockerfile: Path) -> list[str] | None:
    """The exec-form ``CMD`` of a Dockerfile's last stage, or None."""
    commands = re.findall(r"^CMD\s+(\[.*\])\s*$", dockerfile.read_text(encoding="utf-8"), re.MULTILINE)
    if not commands:
        return None
    return [str(part) for part in json.loads(commands[-1])]


# --- what an image must copy -----------------------------------------------------------------------


def project_packages(root: Path = REPO_ROOT) -> set[str]:
    """The project's top-level packages: folders at the repository root with an ``__init__.py``."""
    return {path.parent.name for path in root.glob("*/__init__.py")}


def context_packages(root: Path = REPO_ROOT) -> set[str]:
    """The top-level packages the images' build context lets through (``!name/`` lines of .dockerignore).

    The Dockerfiles copy each of them into the image's task root.
    """
    dockerignore = root / ".dockerignore"
    if not dockerignore.is_file():
        return set()
    let_through = set()
    for line in dockerignore.read_text(encoding="utf-8").splitlines():
        match = re.fullmatch(r"!\s*/?([A-Za-z_][A-Za-z0-9_]*)/?", line.strip())
        if match:
            let_through.add(match.group(1))
    return let_through & project_packages(root)


def imported_packages(module: str, root: Path = REPO_ROOT) -> set[str]:
    """The project packages ``module`` needs: its own and those of every project module it imports,
    transitively, imports inside functions included (handlers import some things lazily)."""
    packages = project_packages(root)
    seen: set[str] = set()
    pending = [module]
    while pending:
        name = pending.pop()
        parts = name.split(".")
        # Importing a.b.c runs a/__init__.py and a/b/__init__.py first.
        for depth in range(1, len(parts) + 1):
            candidate = ".".join(parts[:depth])
            if candidate in seen or parts[0] not in packages:
                continue
            seen.add(candidate)
            source = _module_source(candidate, root)
            if source is not None:
                pending.extend(_imports(source, candidate, is_package=source.name == "__init__.py"))
    return {name.split(".")[0] for name in seen}


def packages_left_out(function: ImageFunction, root: Path = REPO_ROOT) -> set[str]:
    """Project packages the function's handler imports that its image would not copy."""
    return imported_packages(function.handler.rpartition(".")[0], root) - context_packages(root)


def _module_source(module: str, root: Path) -> Path | None:
    path = root.joinpath(*module.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(source: Path, module: str, *, is_package: bool) -> list[str]:
    tree = ast.parse(source.read_text(encoding="utf-8"), filename=str(source))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            names.append(base)
            # ``from package import module`` imports a module as well.
            names += [f"{base}.{alias.name}" for alias in node.names if alias.name != "*"]
    return [name for name in names if name]
