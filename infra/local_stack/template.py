"""Read ``template.yaml`` the way CloudFormation does, for the resources the local stack builds.

- YAML short tags (``!Ref``, ``!Sub``, ``!GetAtt``, ``!Join``, ``!Select``, ``!If`` ...) become
  their long ``Fn::`` forms.
- Parameters take their defaults, then the overrides; bounds and patterns are checked.
- ``Fn::ForEach`` (``AWS::LanguageExtensions``) loops are expanded, conditions evaluated, and
  resources whose condition is false dropped.
- SAM ``Globals.Function`` is merged into every ``AWS::Serverless::Function``.

Intrinsic functions are evaluated by :class:`Resolver`, which asks a callback for the ``Ref`` and
``Fn::GetAtt`` values of resources (known only once the provisioner created them).
"""

from __future__ import annotations

import base64
import copy
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cloud_functions.core.errors import ConfigurationError

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TEMPLATE_PATH = REPO_ROOT / "template.yaml"

FOREACH_PREFIX = "Fn::ForEach::"


class TemplateError(ConfigurationError):
    """The template cannot be read, or uses something the local stack cannot evaluate."""


# --- YAML short tags -----------------------------------------------------------------------------

_SHORT_TAGS = {
    "Ref": "Ref",
    "Condition": "Condition",
    "GetAtt": "Fn::GetAtt",
    "Sub": "Fn::Sub",
    "Join": "Fn::Join",
    "Select": "Fn::Select",
    "Split": "Fn::Split",
    "If": "Fn::If",
    "Equals": "Fn::Equals",
    "Not": "Fn::Not",
    "And": "Fn::And",
    "Or": "Fn::Or",
    "FindInMap": "Fn::FindInMap",
    "Base64": "Fn::Base64",
    "GetAZs": "Fn::GetAZs",
    "ImportValue": "Fn::ImportValue",
    "Cidr": "Fn::Cidr",
    "ToJsonString": "Fn::ToJsonString",
    "Length": "Fn::Length",
    "Transform": "Fn::Transform",
}


class _TemplateLoader(yaml.SafeLoader):
    """SafeLoader that understands CloudFormation's short-form intrinsic tags."""


def _construct_intrinsic(long_name: str) -> Callable[[yaml.SafeLoader, yaml.Node], dict[str, Any]]:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        value: Any
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if long_name == "Fn::GetAtt":
                logical_id, _, attribute = str(value).partition(".")
                value = [logical_id, attribute]
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        elif isinstance(node, yaml.MappingNode):
            value = loader.construct_mapping(node, deep=True)
        else:  # pragma: no cover - yaml has no other node kinds
            raise TemplateError(f"unsupported node for !{long_name}")
        return {long_name: value}

    return construct


for _short, _long in _SHORT_TAGS.items():
    _TemplateLoader.add_constructor(f"!{_short}", _construct_intrinsic(_long))


def _no_dates(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    # CloudFormation reads "2010-09-09" as a string, not a date.
    if not isinstance(node, yaml.ScalarNode):  # pragma: no cover - timestamps are always scalars
        raise TemplateError("a timestamp must be a scalar")
    return str(loader.construct_scalar(node))


_TemplateLoader.add_constructor("tag:yaml.org,2002:timestamp", _no_dates)


def load_template_document(path: Path = DEFAULT_TEMPLATE_PATH) -> dict[str, Any]:
    """The template as plain data, short tags turned into their ``Fn::`` forms."""
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_TemplateLoader)  # noqa: S506
    except (OSError, yaml.YAMLError) as e:
        raise TemplateError(f"cannot read template {path}: {e}") from e
    if not isinstance(document, dict) or "Resources" not in document:
        raise TemplateError(f"{path} is not a CloudFormation template (no Resources)")
    return document


# --- Parameters -----------------------------------------------------------------------------------

ParameterValue = str | list[str]


def resolve_parameters(
    declared: Mapping[str, Mapping[str, Any]], overrides: Mapping[str, str] | None = None
) -> dict[str, ParameterValue]:
    """Each parameter's value: the override, else the default; checked against its constraints.

    Values stay strings, as CloudFormation hands them to resources; ``CommaDelimitedList`` and
    ``List<...>`` parameters become lists of strings.
    """
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise TemplateError(f"unknown parameter override(s): {', '.join(unknown)}")
    values: dict[str, ParameterValue] = {}
    missing = []
    for name, spec in declared.items():
        if name in overrides:
            raw = str(overrides[name])
        elif "Default" in spec:
            raw = str(spec["Default"])
        else:
            missing.append(name)
            continue
        values[name] = _check_parameter(name, spec, raw)
    if missing:
        raise TemplateError(f"parameter(s) without default need a value: {', '.join(missing)}")
    return values


def _check_parameter(name: str, spec: Mapping[str, Any], raw: str) -> ParameterValue:
    kind = str(spec.get("Type", "String"))
    if kind == "CommaDelimitedList" or kind.startswith("List<"):
        return [item.strip() for item in raw.split(",") if item.strip()]
    allowed = spec.get("AllowedValues")
    if allowed is not None and raw not in [str(v) for v in allowed]:
        raise TemplateError(f"parameter {name}={raw!r} is not one of {allowed}")
    pattern = spec.get("AllowedPattern")
    if pattern is not None and not re.fullmatch(str(pattern), raw):
        raise TemplateError(f"parameter {name}={raw!r} does not match {pattern}")
    if kind == "Number":
        try:
            number = float(raw)
        except ValueError as e:
            raise TemplateError(f"parameter {name}={raw!r} is not a number") from e
        if "MinValue" in spec and number < float(spec["MinValue"]):
            raise TemplateError(f"parameter {name}={raw} is below its MinValue {spec['MinValue']}")
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            raise TemplateError(f"parameter {name}={raw} is above its MaxValue {spec['MaxValue']}")
    return raw


# --- Fn::ForEach -----------------------------------------------------------------------------------


def _alnum(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", value)


def _substitute_loop_variable(node: Any, identifier: str, value: str) -> Any:
    """Replace a loop identifier in keys, ``Ref``s and ``Fn::Sub`` strings, as LanguageExtensions does."""
    if isinstance(node, dict):
        if set(node) == {"Ref"} and node["Ref"] == identifier:
            return value
        result = {}
        for key, item in node.items():
            new_key = key.replace("${" + identifier + "}", value).replace(
                "&{" + identifier + "}", _alnum(value)
            )
            if key == "Fn::Sub":
                result[new_key] = _substitute_in_sub(item, identifier, value)
            else:
                result[new_key] = _substitute_loop_variable(item, identifier, value)
        return result
    if isinstance(node, list):
        return [_substitute_loop_variable(item, identifier, value) for item in node]
    return node


def _substitute_in_sub(argument: Any, identifier: str, value: str) -> Any:
    if isinstance(argument, str):
        return argument.replace("${" + identifier + "}", value).replace(
            "&{" + identifier + "}", _alnum(value)
        )
    if isinstance(argument, list) and argument:
        text = _substitute_in_sub(argument[0], identifier, value)
        return [text, *[_substitute_loop_variable(item, identifier, value) for item in argument[1:]]]
    return _substitute_loop_variable(argument, identifier, value)


def expand_foreach(section: Mapping[str, Any], resolve: Callable[[Any], Any]) -> dict[str, Any]:
    """A template section (Resources, Outputs, Conditions) with every ``Fn::ForEach::`` loop unrolled.

    ``resolve`` evaluates the loop's collection (usually ``!Ref`` of a ``CommaDelimitedList``).
    """
    expanded: dict[str, Any] = {}
    for key, item in section.items():
        if not key.startswith(FOREACH_PREFIX):
            expanded[key] = item
            continue
        if not isinstance(item, list) or len(item) != 3:
            raise TemplateError(f"{key} must be [identifier, collection, fragment]")
        identifier, collection, fragment = item
        values = resolve(collection)
        if not isinstance(values, list):
            raise TemplateError(f"{key}: the collection must resolve to a list, got {values!r}")
        for value in values:
            unrolled = _substitute_loop_variable(copy.deepcopy(fragment), identifier, str(value))
            for name, body in expand_foreach(unrolled, resolve).items():
                if name in expanded:
                    raise TemplateError(f"{key} produces {name}, which already exists")
                expanded[name] = body
    return expanded


# --- Intrinsic functions ----------------------------------------------------------------------------


class _NoValue:
    """``AWS::NoValue``: the enclosing property disappears."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()

ResourceAttribute = Callable[[str, str | None], Any]
"""``(logical_id, attribute)`` -> the resource's value; ``attribute`` None asks for its ``Ref``."""

_SUB_PATTERN = re.compile(r"\$\{([^}!][^}]*)\}")


@dataclass
class Resolver:
    """Evaluates CloudFormation intrinsic functions against parameters, pseudo parameters and resources."""

    parameters: Mapping[str, ParameterValue]
    pseudo_parameters: Mapping[str, str]
    mappings: Mapping[str, Any] = field(default_factory=dict)
    conditions: dict[str, bool] = field(default_factory=dict)
    resource_attribute: ResourceAttribute | None = None

    def resolve(self, node: Any) -> Any:
        """``node`` with every intrinsic function evaluated and ``AWS::NoValue`` entries removed."""
        if isinstance(node, dict):
            if len(node) == 1:
                ((key, argument),) = node.items()
                if key == "Condition" and isinstance(argument, str):
                    return self.condition(argument)
                if key == "Ref" or key.startswith("Fn::"):
                    return self._intrinsic(key, argument)
            result = {}
            for key, item in node.items():
                value = self.resolve(item)
                if value is not NO_VALUE:
                    result[key] = value
            return result
        if isinstance(node, list):
            return [value for value in (self.resolve(item) for item in node) if value is not NO_VALUE]
        return node

    def condition(self, name: str) -> bool:
        """The value of a named condition from the template's Conditions section."""
        try:
            return self.conditions[name]
        except KeyError as e:
            raise TemplateError(f"unknown condition {name}") from e

    def ref(self, name: str) -> Any:
        """``Ref``: a parameter, pseudo parameter or resource."""
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo_parameters:
            return self.pseudo_parameters[name]
        if name in self.parameters:
            return self.parameters[name]
        if self.resource_attribute is None:
            raise TemplateError(f"Ref {name}: resources are not known here")
        return self.resource_attribute(name, None)

    def get_att(self, logical_id: str, attribute: str) -> Any:
        """``Fn::GetAtt``: an attribute of a resource."""
        if self.resource_attribute is None:
            raise TemplateError(f"GetAtt {logical_id}.{attribute}: resources are not known here")
        return self.resource_attribute(logical_id, attribute)

    def _intrinsic(self, name: str, argument: Any) -> Any:
        handler = getattr(self, "_fn_" + name.removeprefix("Fn::").lower(), None)
        if handler is None:
            raise TemplateError(f"the local stack cannot evaluate {name}")
        return handler(argument)

    def _fn_ref(self, argument: Any) -> Any:
        return self.ref(self._text(argument))

    def _fn_getatt(self, argument: Any) -> Any:
        if isinstance(argument, str):
            argument = argument.split(".", 1)
        logical_id, attribute = (self._text(part) for part in argument)
        return self.get_att(logical_id, attribute)

    def _fn_sub(self, argument: Any) -> str:
        if isinstance(argument, list):
            text, variables = argument[0], {k: self.resolve(v) for k, v in argument[1].items()}
        else:
            text, variables = argument, {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1).strip()
            if name in variables:
                value = variables[name]
            elif "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                value = self.get_att(logical_id, attribute)
            else:
                value = self.ref(name)
            if isinstance(value, list):
                raise TemplateError(f"Fn::Sub cannot insert the list {name}")
            return str(value)

        substituted = _SUB_PATTERN.sub(replace, str(text))
        return substituted.replace("${!", "${")

    def _fn_join(self, argument: Any) -> str:
        delimiter, items = argument
        values = self.resolve(items)
        return str(delimiter).join(str(v) for v in values)

    def _fn_select(self, argument: Any) -> Any:
        index, items = argument
        values = self.resolve(items)
        return values[int(self.resolve(index))]

    def _fn_split(self, argument: Any) -> list[str]:
        delimiter, text = argument
        return str(self.resolve(text)).split(str(delimiter))

    def _fn_if(self, argument: Any) -> Any:
        name, when_true, when_false = argument
        return self.resolve(when_true if self.condition(str(name)) else when_false)

    def _fn_equals(self, argument: Any) -> bool:
        left, right = (self.resolve(item) for item in argument)
        return str(left) == str(right)

    def _fn_not(self, argument: Any) -> bool:
        return not self._truth(argument[0])

    def _fn_and(self, argument: Any) -> bool:
        return all(self._truth(item) for item in argument)

    def _fn_or(self, argument: Any) -> bool:
        return any(self._truth(item) for item in argument)

    def _fn_findinmap(self, argument: Any) -> Any:
        map_name, top_key, second_key = (self._text(part) for part in argument[:3])
        try:
            return self.mappings[map_name][top_key][second_key]
        except KeyError as e:
            raise TemplateError(f"FindInMap {map_name}/{top_key}/{second_key} is not in Mappings") from e

    def _fn_base64(self, argument: Any) -> str:
        return base64.b64encode(self._text(argument).encode()).decode()

    def _fn_tojsonstring(self, argument: Any) -> str:
        return json.dumps(self.resolve(argument), separators=(",", ":"))

    def _fn_length(self, argument: Any) -> int:
        return len(self.resolve(argument))

    def _fn_getazs(self, _argument: Any) -> list[str]:
        region = self.pseudo_parameters["AWS::Region"]
        return [f"{region}{zone}" for zone in "abc"]

    def _truth(self, node: Any) -> bool:
        if isinstance(node, dict) and set(node) == {"Condition"}:
            return self.condition(str(node["Condition"]))
        return bool(self.resolve(node))

    def _text(self, node: Any) -> str:
        value = self.resolve(node)
        if not isinstance(value, str):
            raise TemplateError(f"expected a string, got {value!r}")
        return value


# --- The template, ready for a stack ------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateResource:
    """One resource after loops, conditions and SAM globals were applied; properties not yet resolved."""

    logical_id: str
    type: str
    properties: dict[str, Any]
    depends_on: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class StackTemplate:
    """The template prepared for one stack: parameters fixed, loops expanded, resources in creation order."""

    path: Path
    parameters: dict[str, ParameterValue]
    resolver: Resolver
    resources: dict[str, TemplateResource]
    outputs: dict[str, Any]

    def of_type(self, resource_type: str) -> Iterator[TemplateResource]:
        """The resources of one type, in creation order."""
        return (r for r in self.resources.values() if r.type == resource_type)


def prepare_template(
    path: Path = DEFAULT_TEMPLATE_PATH,
    *,
    parameter_overrides: Mapping[str, str] | None = None,
    pseudo_parameters: Mapping[str, str],
) -> StackTemplate:
    """Load ``path`` and apply parameters, ``Fn::ForEach``, conditions and SAM globals.

    Resources come back in an order where each one follows everything it references.
    """
    document = load_template_document(path)
    parameters = resolve_parameters(document.get("Parameters", {}), parameter_overrides)
    resolver = Resolver(parameters, pseudo_parameters, mappings=document.get("Mappings", {}))

    conditions = expand_foreach(document.get("Conditions", {}), resolver.resolve)
    for name in conditions:
        resolver.conditions[name] = _evaluate_condition(name, conditions, resolver, set())

    raw_resources = expand_foreach(document["Resources"], resolver.resolve)
    function_globals = document.get("Globals", {}).get("Function", {})
    resources: dict[str, TemplateResource] = {}
    for logical_id, body in raw_resources.items():
        if not isinstance(body, dict) or "Type" not in body:
            raise TemplateError(f"resource {logical_id} has no Type")
        condition = body.get("Condition")
        if condition is not None and not resolver.condition(str(condition)):
            continue
        properties = copy.deepcopy(body.get("Properties", {}))
        if body["Type"] == "AWS::Serverless::Function":
            properties = merge_function_globals(function_globals, properties)
        depends_on = body.get("DependsOn", ())
        resources[logical_id] = TemplateResource(
            logical_id=logical_id,
            type=str(body["Type"]),
            properties=properties,
            depends_on=(depends_on,) if isinstance(depends_on, str) else tuple(depends_on),
            metadata=dict(body.get("Metadata", {})),
        )
    ordered = {logical_id: resources[logical_id] for logical_id in _creation_order(resources)}
    outputs = expand_foreach(document.get("Outputs", {}), resolver.resolve)
    return StackTemplate(path, parameters, resolver, ordered, outputs)


def _evaluate_condition(
    name: str, conditions: Mapping[str, Any], resolver: Resolver, visiting: set[str]
) -> bool:
    if name in resolver.conditions:
        return resolver.conditions[name]
    if name in visiting:
        raise TemplateError(f"condition {name} refers to itself")
    visiting.add(name)
    for referenced in _condition_names(conditions[name]):
        if referenced in conditions:
            resolver.conditions[referenced] = _evaluate_condition(referenced, conditions, resolver, visiting)
    value = bool(resolver.resolve(conditions[name]))
    resolver.conditions[name] = value
    return value


def _condition_names(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, item in node.items():
            if key == "Condition" and isinstance(item, str):
                yield item
            else:
                yield from _condition_names(item)
    elif isinstance(node, list):
        for item in node:
            yield from _condition_names(item)


def merge_function_globals(globals_: Mapping[str, Any], properties: Mapping[str, Any]) -> dict[str, Any]:
    """SAM's Globals rule: maps merge (the function wins), lists append, scalars are replaced."""
    merged: dict[str, Any] = copy.deepcopy(dict(globals_))
    for key, value in properties.items():
        current = merged.get(key)
        if isinstance(current, dict) and isinstance(value, dict) and not _is_intrinsic(value):
            merged[key] = merge_function_globals(current, value)
        elif isinstance(current, list) and isinstance(value, list):
            merged[key] = current + copy.deepcopy(value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _is_intrinsic(node: Mapping[str, Any]) -> bool:
    return len(node) == 1 and next(iter(node)).startswith(("Fn::", "Ref"))


def referenced_resources(node: Any, candidates: Mapping[str, Any]) -> set[str]:
    """Logical ids among ``candidates`` that ``node`` refers to through Ref, GetAtt or Sub."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, item in node.items():
            if key == "Ref" and isinstance(item, str) and item in candidates:
                found.add(item)
            elif key == "Fn::GetAtt":
                target = item.split(".", 1)[0] if isinstance(item, str) else item[0]
                if isinstance(target, str) and target in candidates:
                    found.add(target)
                elif isinstance(target, dict):
                    found |= _sub_names(target.get("Fn::Sub"), candidates)
            elif key == "Fn::Sub":
                found |= _sub_names(item, candidates)
                if isinstance(item, list) and len(item) > 1:
                    found |= referenced_resources(item[1], candidates)
            else:
                found |= referenced_resources(item, candidates)
    elif isinstance(node, list):
        for item in node:
            found |= referenced_resources(item, candidates)
    return found


def _sub_names(argument: Any, candidates: Mapping[str, Any]) -> set[str]:
    text = argument[0] if isinstance(argument, list) else argument
    if not isinstance(text, str):
        return set()
    names = set()
    for match in _SUB_PATTERN.finditer(text):
        name = match.group(1).split(".", 1)[0].strip()
        if name in candidates:
            names.add(name)
    # A Sub whose whole text is a logical id names a resource (``!GetAtt [!Sub "Queue${Id}", Arn]``).
    if text in candidates:
        names.add(text)
    return names


def _creation_order(resources: Mapping[str, TemplateResource]) -> list[str]:
    """Depth-first topological order; a cycle is a template error."""
    order: list[str] = []
    state: dict[str, str] = {}

    def visit(logical_id: str, path: tuple[str, ...]) -> None:
        if state.get(logical_id) == "done":
            return
        if state.get(logical_id) == "visiting":
            raise TemplateError("circular dependency: " + " -> ".join((*path, logical_id)))
        state[logical_id] = "visiting"
        resource = resources[logical_id]
        needed = referenced_resources(resource.properties, resources) | {
            d for d in resource.depends_on if d in resources
        }
        for dependency in sorted(needed - {logical_id}):
            visit(dependency, (*path, logical_id))
        state[logical_id] = "done"
        order.append(logical_id)

    for logical_id in resources:
        visit(logical_id, ())
    return order
