"""The template reader, the poller's rules and the HTTP API's routing, without an endpoint: tables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.local_stack.http_api import BoundRoute, http_response
from infra.local_stack.poller import failed_ids
from infra.local_stack.provisioner import HttpRoute, LocalFunction
from infra.local_stack.template import (
    NO_VALUE,
    Resolver,
    TemplateError,
    _TemplateLoader,
    expand_foreach,
    merge_function_globals,
    prepare_template,
    resolve_parameters,
)

PSEUDO = {"AWS::Region": "eu-west-1", "AWS::AccountId": "111122223333", "AWS::Partition": "aws"}


def _yaml(text: str) -> Any:
    return yaml.load(text, Loader=_TemplateLoader)  # noqa: S506 - the SafeLoader subclass


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("!Ref Stage", {"Ref": "Stage"}),
        ("!GetAtt Queue.Arn", {"Fn::GetAtt": ["Queue", "Arn"]}),
        ("!GetAtt [Queue, Arn]", {"Fn::GetAtt": ["Queue", "Arn"]}),
        ('!Sub "a-${Stage}"', {"Fn::Sub": "a-${Stage}"}),
        ("!Join [',', [a, b]]", {"Fn::Join": [",", ["a", "b"]]}),
        ("!Select [1, !Ref L]", {"Fn::Select": [1, {"Ref": "L"}]}),
        ("!If [C, x, y]", {"Fn::If": ["C", "x", "y"]}),
        ("!Equals [!Ref S, prod]", {"Fn::Equals": [{"Ref": "S"}, "prod"]}),
        ("!Not [!Condition C]", {"Fn::Not": [{"Condition": "C"}]}),
        ("!Split [',', 'a,b']", {"Fn::Split": [",", "a,b"]}),
        ("2010-09-09", "2010-09-09"),
    ],
)
def test_short_tags_become_long_forms(text: str, expected: Any) -> None:
    assert _yaml(text) == expected


@pytest.fixture
def resolver() -> Resolver:
    attributes = {("Queue", None): "https://q/url", ("Queue", "Arn"): "arn:aws:sqs:eu-west-1:1:q"}
    return Resolver(
        parameters={"Stage": "dev", "Rooms": ["R1", "R2"], "Days": "30"},
        pseudo_parameters=PSEUDO,
        mappings={"Sizes": {"dev": {"Memory": 512}}},
        conditions={"IsProd": False, "IsDev": True},
        resource_attribute=lambda logical_id, name: attributes[(logical_id, name)],
    )


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        ({"Ref": "Stage"}, "dev"),
        ({"Ref": "AWS::Region"}, "eu-west-1"),
        ({"Ref": "Queue"}, "https://q/url"),
        ({"Fn::GetAtt": ["Queue", "Arn"]}, "arn:aws:sqs:eu-west-1:1:q"),
        ({"Fn::GetAtt": [{"Fn::Sub": "Queue"}, "Arn"]}, "arn:aws:sqs:eu-west-1:1:q"),
        ({"Fn::Sub": "b-${Stage}-${AWS::AccountId}"}, "b-dev-111122223333"),
        ({"Fn::Sub": "${Queue.Arn}/x"}, "arn:aws:sqs:eu-west-1:1:q/x"),
        ({"Fn::Sub": "keep ${!Literal}"}, "keep ${Literal}"),
        ({"Fn::Sub": ["${A}-${Stage}", {"A": {"Ref": "Days"}}]}, "30-dev"),
        ({"Fn::Join": ["-", [{"Ref": "Stage"}, "x"]]}, "dev-x"),
        ({"Fn::Join": [",", {"Ref": "Rooms"}]}, "R1,R2"),
        ({"Fn::Select": [1, {"Ref": "Rooms"}]}, "R2"),
        ({"Fn::Split": [",", "a,b"]}, ["a", "b"]),
        ({"Fn::If": ["IsProd", "big", "small"]}, "small"),
        ({"Fn::Equals": [{"Ref": "Stage"}, "dev"]}, True),
        ({"Fn::And": [{"Condition": "IsDev"}, {"Fn::Not": [{"Condition": "IsProd"}]}]}, True),
        ({"Fn::Or": [{"Condition": "IsProd"}, {"Fn::Equals": ["a", "b"]}]}, False),
        ({"Fn::FindInMap": ["Sizes", {"Ref": "Stage"}, "Memory"]}, 512),
        ({"Fn::ToJsonString": {"room_id": [{"Ref": "Stage"}]}}, '{"room_id":["dev"]}'),
        ({"Fn::Length": {"Ref": "Rooms"}}, 2),
        ({"a": {"Ref": "AWS::NoValue"}, "b": 1}, {"b": 1}),
        ([{"Fn::If": ["IsProd", "x", {"Ref": "AWS::NoValue"}]}, "y"], ["y"]),
        ({"Condition": {"StringEquals": {"k": "v"}}}, {"Condition": {"StringEquals": {"k": "v"}}}),
    ],
)
def test_resolver_evaluates_intrinsic_functions(resolver: Resolver, node: Any, expected: Any) -> None:
    assert resolver.resolve(node) == expected


def test_no_value_alone_is_the_no_value_marker(resolver: Resolver) -> None:
    assert resolver.resolve({"Ref": "AWS::NoValue"}) is NO_VALUE


def test_unknown_intrinsic_is_a_clear_error(resolver: Resolver) -> None:
    with pytest.raises(TemplateError, match="Fn::Cidr"):
        resolver.resolve({"Fn::Cidr": ["10.0.0.0/16", 2, 8]})


def test_foreach_unrolls_keys_refs_and_subs() -> None:
    # GIVEN a loop over two rooms, one of them with a character logical ids cannot hold
    section = {
        "Plain": {"Type": "AWS::SNS::Topic"},
        "Fn::ForEach::Rooms": [
            "RoomId",
            {"Ref": "RoomIds"},
            {
                "Queue&{RoomId}": {
                    "Type": "AWS::SQS::Queue",
                    "Properties": {
                        "QueueName": {"Fn::Sub": "q-${RoomId}-${Stage}"},
                        "Tags": [{"Key": "room", "Value": {"Ref": "RoomId"}}],
                        "Other": {"Fn::GetAtt": [{"Fn::Sub": "Dlq&{RoomId}"}, "Arn"]},
                    },
                }
            },
        ],
    }
    # WHEN it is expanded
    expanded = expand_foreach(section, lambda node: ["R1", "R-2"] if node == {"Ref": "RoomIds"} else node)
    # THEN each room has its resource, with the loop variable replaced everywhere
    assert list(expanded) == ["Plain", "QueueR1", "QueueR2"]
    properties = expanded["QueueR2"]["Properties"]
    assert properties["QueueName"] == {"Fn::Sub": "q-R-2-${Stage}"}
    assert properties["Tags"] == [{"Key": "room", "Value": "R-2"}]
    assert properties["Other"] == {"Fn::GetAtt": [{"Fn::Sub": "DlqR2"}, "Arn"]}


def test_foreach_producing_a_duplicate_is_an_error() -> None:
    section = {"Fn::ForEach::X": ["Id", ["a", "a"], {"Thing${Id}": {"Type": "T"}}]}
    with pytest.raises(TemplateError, match="already exists"):
        expand_foreach(section, lambda node: node)


DECLARED = {
    "Stage": {"Type": "String", "Default": "dev", "AllowedPattern": "^[a-z]+$"},
    "Rooms": {"Type": "CommaDelimitedList", "Default": "R1, R2"},
    "Timeout": {"Type": "Number", "Default": 30, "MinValue": 1, "MaxValue": 60},
    "Color": {"Type": "String", "Default": "red", "AllowedValues": ["red", "blue"]},
    "Secret": {"Type": "String", "NoEcho": True},
}


@pytest.mark.parametrize(
    ("overrides", "expected", "error"),
    [
        ({"Secret": "s"}, {"Stage": "dev", "Rooms": ["R1", "R2"], "Timeout": "30", "Color": "red"}, None),
        ({"Secret": "s", "Rooms": "A,B,C", "Timeout": "5"}, {"Rooms": ["A", "B", "C"], "Timeout": "5"}, None),
        ({}, None, "Secret"),
        ({"Secret": "s", "Timeout": "0"}, None, "MinValue"),
        ({"Secret": "s", "Timeout": "61"}, None, "MaxValue"),
        ({"Secret": "s", "Timeout": "soon"}, None, "not a number"),
        ({"Secret": "s", "Stage": "Dev"}, None, "does not match"),
        ({"Secret": "s", "Color": "green"}, None, "not one of"),
        ({"Secret": "s", "Colour": "red"}, None, "unknown parameter"),
    ],
)
def test_parameters_take_overrides_defaults_and_constraints(
    overrides: dict[str, str], expected: dict[str, Any] | None, error: str | None
) -> None:
    if error is not None:
        with pytest.raises(TemplateError, match=error):
            resolve_parameters(DECLARED, overrides)
        return
    values = resolve_parameters(DECLARED, overrides)
    assert expected is not None
    assert {k: values[k] for k in expected} == expected


@pytest.mark.parametrize(
    ("globals_", "properties", "expected"),
    [
        ({"Timeout": 60}, {"Timeout": 30}, {"Timeout": 30}),
        ({"Timeout": 60}, {"MemorySize": 512}, {"Timeout": 60, "MemorySize": 512}),
        (
            {"Environment": {"Variables": {"A": "1", "B": "2"}}},
            {"Environment": {"Variables": {"B": "3"}}},
            {"Environment": {"Variables": {"A": "1", "B": "3"}}},
        ),
        ({"Layers": ["a"]}, {"Layers": ["b"]}, {"Layers": ["a", "b"]}),
        ({"Role": {"Ref": "R1"}}, {"Role": {"Ref": "R2"}}, {"Role": {"Ref": "R2"}}),
    ],
)
def test_sam_globals_merge_into_functions(
    globals_: dict[str, Any], properties: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert merge_function_globals(globals_, properties) == expected


def _write_template(tmp_path: Path, resources: dict[str, Any]) -> Path:
    path = tmp_path / "template.yaml"
    path.write_text(json.dumps({"Resources": resources}), encoding="utf-8")
    return path


def test_resources_come_after_what_they_reference(tmp_path: Path) -> None:
    # GIVEN resources declared before the ones they refer to
    path = _write_template(
        tmp_path,
        {
            "Bucket": {"Type": "AWS::S3::Bucket", "DependsOn": "Policy", "Properties": {}},
            "Policy": {"Type": "AWS::SQS::QueuePolicy", "Properties": {"Queues": [{"Ref": "Queue"}]}},
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"Name": {"Fn::Sub": "${Dlq.Arn}"}}},
            "Dlq": {"Type": "AWS::SQS::Queue", "Properties": {}},
        },
    )
    # WHEN the template is prepared
    order = list(prepare_template(path, pseudo_parameters=PSEUDO).resources)
    # THEN each comes after its dependencies
    assert order == ["Dlq", "Queue", "Policy", "Bucket"]


def test_circular_references_are_a_template_error(tmp_path: Path) -> None:
    path = _write_template(
        tmp_path,
        {
            "A": {"Type": "AWS::SQS::Queue", "Properties": {"X": {"Ref": "B"}}},
            "B": {"Type": "AWS::SQS::Queue", "Properties": {"X": {"Fn::GetAtt": ["A", "Arn"]}}},
        },
    )
    with pytest.raises(TemplateError, match="circular"):
        prepare_template(path, pseudo_parameters=PSEUDO)


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (None, ()),
        ({}, ()),
        ({"batchItemFailures": []}, ()),
        ({"batchItemFailures": [{"itemIdentifier": "m2"}]}, ("m2",)),
        ({"batchItemFailures": [{"itemIdentifier": "m3"}, {"itemIdentifier": "m1"}]}, ("m1", "m3")),
        # Lambda fails the whole batch when a reported id is empty or not in the batch
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, ("m1", "m2", "m3")),
        ({"batchItemFailures": [{"itemIdentifier": "other"}]}, ("m1", "m2", "m3")),
        ({"batchItemFailures": [{"id": "m1"}]}, ("m1", "m2", "m3")),
        ("not a mapping", ()),
    ],
)
def test_partial_batch_response_decides_what_stays(response: Any, expected: tuple[str, ...]) -> None:
    assert failed_ids(response, ("m1", "m2", "m3"), report_batch_item_failures=True) == expected


def test_without_report_batch_item_failures_a_return_is_full_success() -> None:
    response = {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert failed_ids(response, ("m1", "m2"), report_batch_item_failures=False) == ()


def _bound(path: str, method: str = "ANY") -> BoundRoute:
    function = LocalFunction("Fn", "fn", "m.h", {}, 3, 128, (), {}, {})
    return BoundRoute(HttpRoute("Fn", "E", method=method, path=path), function, lambda event, context: None)


@pytest.mark.parametrize(
    ("route_path", "method", "request_method", "request_path", "expected"),
    [
        ("$default", "ANY", "GET", "/", {}),
        ("/{proxy+}", "ANY", "GET", "/", None),
        ("/{proxy+}", "ANY", "DELETE", "/a/b", {"proxy": "a/b"}),
        ("/students/{usn}", "GET", "GET", "/students/1MS21CS001", {"usn": "1MS21CS001"}),
        ("/students/{usn}", "GET", "POST", "/students/1MS21CS001", None),
        ("/students/{usn}", "ANY", "GET", "/students/1/photos", None),
        ("/health", "GET", "GET", "/health", {}),
        ("/", "GET", "GET", "/", {}),
    ],
)
def test_http_routes_match_as_api_gateway_does(
    route_path: str, method: str, request_method: str, request_path: str, expected: dict[str, str] | None
) -> None:
    assert _bound(route_path, method).match(request_method, request_path) == expected


def test_http_routes_try_the_most_specific_first() -> None:
    routes = [_bound("$default"), _bound("/{proxy+}"), _bound("/students/{usn}"), _bound("/students/me")]
    assert [r.route.path for r in sorted(routes, key=lambda r: r.priority)] == [
        "/students/me",
        "/students/{usn}",
        "/{proxy+}",
        "$default",
    ]


@pytest.mark.parametrize(
    ("result", "status", "headers", "body"),
    [
        ({"statusCode": 201, "body": "made"}, 201, [], b"made"),
        (
            {"statusCode": 200, "headers": {"content-type": "text/csv"}, "cookies": ["a=1"], "body": "x"},
            200,
            [("content-type", "text/csv"), ("set-cookie", "a=1")],
            b"x",
        ),
        ({"statusCode": 200, "body": "AAE=", "isBase64Encoded": True}, 200, [], b"\x00\x01"),
        ({"message": "hi"}, 200, [("content-type", "application/json")], b'{"message": "hi"}'),
        ("plain", 200, [("content-type", "application/json")], b"plain"),
        ({"statusCode": 204}, 204, [], b""),
    ],
)
def test_handler_results_become_responses_as_on_api_gateway(
    result: Any, status: int, headers: list[tuple[str, str]], body: bytes
) -> None:
    response = http_response(result)
    assert (response.status, response.headers, response.body) == (status, headers, body)
