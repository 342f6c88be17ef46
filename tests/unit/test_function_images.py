"""template.yaml's image functions against their Dockerfiles, the build context and the handlers.

What ``sam build`` and Lambda look for, checked without building: each function's Metadata
(Dockerfile, DockerContext, DockerTag) points at a Dockerfile inside the context; ImageConfig.Command
is the Dockerfile's CMD and names a handler that exists; the build context lets through every
project package the handler imports; the weights the template names are where the images put them.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from cloud_functions.core.settings import FunctionSettings
from infra.images.base import AWS_BASE_IMAGE
from infra.images.build import model_files, stage_models
from infra.images.engine import ImageError
from infra.images.functions import (
    ImageFunction,
    context_packages,
    dockerfile_cmd,
    image_functions,
    imported_packages,
    packages_left_out,
    select_functions,
)
from infra.local_stack import local_parameter_overrides
from infra.local_stack.template import TemplateError, load_template_document
from tests.conftest import MODELS_DIR, REPO_ROOT

TEMPLATE = load_template_document()
FUNCTIONS = list(image_functions().values())
FACE_FUNCTIONS = {"EnrollFunction", "FaceMatchFunction"}


def dockerfile_defaults(function: ImageFunction) -> dict[str, str]:
    text = function.dockerfile_path.read_text(encoding="utf-8")
    return dict(re.findall(r"^ARG\s+(\w+)=(\S+)\s*$", text, re.MULTILINE))


def sam_functions() -> dict[str, dict[str, Any]]:
    return {
        logical_id: body
        for logical_id, body in TEMPLATE["Resources"].items()
        if isinstance(body, dict) and body.get("Type") == "AWS::Serverless::Function"
    }


def models_relative(value: Any, parameters: dict[str, str]) -> str | None:
    """``!Sub "${ModelsDir}/..."`` as the path under ModelsDir, other parameters filled in."""
    text = value.get("Fn::Sub") if isinstance(value, dict) else None
    if not isinstance(text, str) or not text.startswith("${ModelsDir}/"):
        return None
    return re.sub(r"\$\{(\w+)\}", lambda m: parameters[m.group(1)], text.removeprefix("${ModelsDir}/"))


def test_every_function_of_the_template_is_an_image_function() -> None:
    assert {f.logical_id for f in FUNCTIONS} == set(sam_functions())
    assert len(FUNCTIONS) == 7


@pytest.mark.parametrize("function", FUNCTIONS, ids=[f.logical_id for f in FUNCTIONS])
def test_metadata_points_sam_build_at_a_dockerfile_inside_the_context(function: ImageFunction) -> None:
    # GIVEN the function's Metadata, read as sam build reads it
    # THEN the context is the repository root, the Dockerfile lies in it, and the tag is a Docker tag
    assert function.context == REPO_ROOT
    assert function.dockerfile_path.is_file()
    assert function.dockerfile_path.resolve().is_relative_to(function.context)
    assert re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", function.tag)
    # AND SAM's local image name is the lower-case logical id with that tag
    assert function.image == f"{function.logical_id.lower()}:{function.tag}"


@pytest.mark.parametrize("logical_id", sorted(sam_functions()))
def test_image_functions_carry_no_zip_properties(logical_id: str) -> None:
    # SAM rejects Runtime/Handler/CodeUri/Layers on PackageType Image, in the function or in Globals.
    properties = sam_functions()[logical_id]["Properties"]
    zip_only = {"Runtime", "Handler", "CodeUri", "InlineCode", "Layers"}
    assert properties["PackageType"] == "Image"
    assert not zip_only & set(properties)
    assert not zip_only & set(TEMPLATE.get("Globals", {}).get("Function", {}))


@pytest.mark.parametrize("function", FUNCTIONS, ids=[f.logical_id for f in FUNCTIONS])
def test_image_command_is_the_dockerfiles_cmd_and_names_a_handler_that_exists(
    function: ImageFunction,
) -> None:
    # GIVEN the template's ImageConfig.Command and the Dockerfile's CMD
    # THEN they agree, as one dotted module.function inside cloud_functions
    assert dockerfile_cmd(function.dockerfile_path) == list(function.command)
    assert len(function.command) == 1 and re.fullmatch(
        r"cloud_functions\.\w+\.handler\.\w+", function.handler
    )
    # AND that module defines that name at module level, where Lambda's runtime looks it up
    module, attribute = function.handler.rsplit(".", 1)
    source = REPO_ROOT.joinpath(*module.split(".")).with_suffix(".py")
    tree = ast.parse(source.read_text(encoding="utf-8"))
    defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)} | {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    assert attribute in defined


@pytest.mark.parametrize("function", FUNCTIONS, ids=[f.logical_id for f in FUNCTIONS])
def test_the_image_copies_every_project_package_its_handler_imports(function: ImageFunction) -> None:
    # GIVEN every project package the handler imports, lazily imported ones included
    needed = imported_packages(function.handler.rpartition(".")[0])
    # THEN the build context lets each through (the Dockerfiles copy each into the task root)
    assert "cloud_functions" in needed
    assert packages_left_out(function) == set()
    assert needed <= context_packages()


def test_a_package_the_context_leaves_out_is_caught_and_one_line_lets_it_in(tmp_path: Path) -> None:
    # GIVEN a project whose handler imports `contracts`, which imports `vision` inside a function,
    # and a .dockerignore that lets only cloud_functions through
    files = {
        "cloud_functions/__init__.py": "",
        "cloud_functions/fn/__init__.py": "",
        "cloud_functions/fn/handler.py": "from contracts.capture import Capture\nhandler = Capture",
        "contracts/__init__.py": "",
        "contracts/capture.py": "class Capture:\n    def crop(self):\n        from vision import faces\n",
        "vision/__init__.py": "",
        "vision/faces.py": "",
        "edge_client/__init__.py": "",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    dockerignore = tmp_path / ".dockerignore"
    dockerignore.write_text("*\n!pyproject.toml\n!build/models/\n!cloud_functions/\n", encoding="utf-8")
    function = ImageFunction(
        "FnFunction", Path("fn.Dockerfile"), tmp_path, "v1", ("cloud_functions.fn.handler.handler",)
    )
    # WHEN the function is checked THEN both packages are named
    assert packages_left_out(function, tmp_path) == {"contracts", "vision"}
    # WHEN one line per package is added THEN nothing is left out, and nothing else came in
    dockerignore.write_text(dockerignore.read_text() + "!contracts/\n!vision/\n", encoding="utf-8")
    assert packages_left_out(function, tmp_path) == set()
    assert context_packages(tmp_path) == {"cloud_functions", "contracts", "vision"}


def test_the_build_context_holds_the_requirements_and_the_weights() -> None:
    lines = {line.strip() for line in (REPO_ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()}
    assert "*" in lines  # a whitelist: nothing else (.venv, var/, tests) goes to the builder
    assert {"!pyproject.toml", "!build/models/"} <= lines


@pytest.mark.parametrize("function", FUNCTIONS, ids=[f.logical_id for f in FUNCTIONS])
def test_dockerfiles_default_to_production_and_take_what_cannot_be_fetched_as_build_arguments(
    function: ImageFunction,
) -> None:
    defaults = dockerfile_defaults(function)
    assert defaults["BASE_IMAGE"] == AWS_BASE_IMAGE
    if function.logical_id in FACE_FUNCTIONS:
        assert defaults["FACE_EMBEDDER_WEIGHTS"] == "deepface"
    else:
        assert "FACE_EMBEDDER_WEIGHTS" not in defaults


@pytest.mark.parametrize("function", FUNCTIONS, ids=[f.logical_id for f in FUNCTIONS])
def test_each_image_installs_an_extra_of_pyproject_without_the_edge_stack(function: ImageFunction) -> None:
    # GIVEN the extra the Dockerfile installs with the core requirements
    [extra] = re.findall(r"\['optional-dependencies'\]\['(\w+)'\]", function.dockerfile_path.read_text())
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    # THEN pyproject has it, and it names none of the edge's detector packages
    requirements = project["dependencies"] + project["optional-dependencies"][extra]
    names = {re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower() for requirement in requirements}
    assert not names & {"ultralytics", "torch", "torchvision", "openvino"}
    # AND the packages only wheels can bring are installed as wheels (no compiler on the AWS image)
    assert "--only-binary=:all:" in function.dockerfile_path.read_text()


def test_the_weights_the_template_names_are_where_the_images_put_them() -> None:
    # GIVEN the template's model paths under ModelsDir, with its production and the local parameters
    parameters = {name: str(spec.get("Default", "")) for name, spec in TEMPLATE["Parameters"].items()}
    local = {**parameters, **local_parameter_overrides("sqlite://")}
    variables = dict(TEMPLATE["Globals"]["Function"]["Environment"]["Variables"])
    variables.update(sam_functions()["BodyMatchFunction"]["Properties"]["Environment"]["Variables"])
    production = {
        k: models_relative(v, parameters) for k, v in variables.items() if models_relative(v, parameters)
    }
    local_paths = {k: models_relative(v, local) for k, v in variables.items() if models_relative(v, local)}
    # AND the files the build puts into build/models/ from the settings (this machine's weights)
    staged = set(
        model_files(FunctionSettings(database_url="sqlite://", bucket_name="b", handoff_topic_arn="t"))
    )
    # THEN the detector, the local embedder and the re-id model are among them, in face/ and reid/
    assert production["CLASSSIGHT_FACE_DETECTOR_PATH"] in staged
    assert production["CLASSSIGHT_REID_WEIGHTS_PATH"] in staged
    assert local_paths["CLASSSIGHT_FACE_EMBEDDER_PATH"] in staged
    # AND the production embedder's weights are the file DeepFace's download leaves in face/
    assert production["CLASSSIGHT_FACE_EMBEDDER_PATH"] == "face/arcface_weights.h5"
    for logical_id in FACE_FUNCTIONS:
        [function] = select_functions([logical_id])
        text = function.dockerfile_path.read_text(encoding="utf-8")
        assert "arcface_weights.h5 /opt/models/face/" in text
    # AND every Dockerfile bakes weights under the template's ModelsDir
    for function in FUNCTIONS:
        destinations = re.findall(
            r"^COPY --from=context /models/\S+ (\S+)$", function.dockerfile_path.read_text(), re.M
        )
        assert all(d.startswith(parameters["ModelsDir"] + "/") for d in destinations)
        assert bool(destinations) == (function.logical_id in FACE_FUNCTIONS | {"BodyMatchFunction"})


def test_weights_are_staged_readable_and_alone(tmp_path: Path) -> None:
    # GIVEN a build/models/ with a stale file, and settings naming this machine's weights
    (tmp_path / "face").mkdir()
    (tmp_path / "face" / "old.onnx").write_bytes(b"stale")
    settings = FunctionSettings(database_url="sqlite://", bucket_name="b", handoff_topic_arn="t")
    # WHEN the weights are staged
    staged = stage_models(settings, tmp_path)
    # THEN exactly the settings' files are there, readable by Lambda's unprivileged user
    assert {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()} == set(
        model_files(settings)
    )
    assert all(p.stat().st_mode & 0o444 == 0o444 for p in staged)
    assert (tmp_path / "face" / "face_detection_yunet.onnx").read_bytes() == (
        MODELS_DIR / "face" / "face_detection_yunet.onnx"
    ).read_bytes()


def test_missing_weights_are_named_before_any_build(tmp_path: Path) -> None:
    settings = FunctionSettings(
        database_url="sqlite://",
        bucket_name="b",
        handoff_topic_arn="t",
        reid_weights_path=tmp_path / "nope.onnx",
    )
    with pytest.raises(ImageError, match=r"nope\.onnx"):
        stage_models(settings, tmp_path / "models")


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["face_match"], ["FaceMatchFunction"]),
        (["FaceMatchFunction", "api"], ["FaceMatchFunction", "ApiFunction"]),
        (None, [f.logical_id for f in FUNCTIONS]),
    ],
)
def test_functions_are_chosen_by_short_name_or_logical_id(
    names: list[str] | None, expected: list[str]
) -> None:
    assert [f.logical_id for f in select_functions(names)] == expected


def test_an_unknown_function_name_lists_the_known_ones() -> None:
    with pytest.raises(TemplateError, match=r"face_match \(FaceMatchFunction\)"):
        select_functions(["facematch"])


def test_sam_cli_expands_the_templates_language_extensions() -> None:
    # SAM CLI expands Fn::ForEach locally only when asked (1.170 crashes in `sam build` otherwise);
    # samconfig.toml asks for every command run from the repository root.
    assert "AWS::LanguageExtensions" in TEMPLATE["Transform"]
    config = tomllib.loads((REPO_ROOT / "samconfig.toml").read_text(encoding="utf-8"))
    assert config["default"]["global"]["parameters"]["language_extensions"] is True
    deploy = config["default"]["deploy"]["parameters"]
    assert deploy["resolve_image_repos"] is True  # one ECR repository per image function
