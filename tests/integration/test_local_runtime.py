"""The local runtime itself: the SAM template reader, the in-process cloud on moto and the local API Gateway.

Runs against the fixture app in tests/fixtures/mini_app (a Map with Retry and Catch, an echo API) and checks
that the real template.yaml loads.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import textwrap
import time
from pathlib import Path

import moto
import pytest
import requests
from botocore.exceptions import ClientError
from moto.awslambda.utils import get_backend
from moto.awslambda_simple.models import LambdaSimpleBackend
from samtranslator.yaml_helper import yaml_parse

from local import cloud as cloud_module
from local.api_gateway import ApiResponse, LocalApiGateway
from local.cloud import LambdaInvocationError, LocalCloud, LocalCloudError
from local.sam_template import TemplateError, load_template

ROOT = Path(__file__).resolve().parents[2]
REAL_TEMPLATE = ROOT / "template.yaml"
MINI_TEMPLATE = ROOT / "tests" / "fixtures" / "mini_app" / "template.yaml"
STACK = "mini"


# ---------------------------------------------------------------------------------------------------- templates


def test_the_real_template_loads_with_every_resource_resolved():
    sam = yaml_parse(REAL_TEMPLATE.read_text())
    declared = {kind: {lid for lid, res in sam["Resources"].items() if res["Type"] == kind} for kind in (
        "AWS::Serverless::Function", "AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::SecretsManager::Secret",
        "AWS::Serverless::StateMachine",
    )}  # fmt: skip
    api_events = [
        (event["Properties"]["Method"].upper(), event["Properties"]["Path"])
        for res in sam["Resources"].values()
        for event in (res.get("Properties") or {}).get("Events", {}).values()
        if event["Type"] == "Api"
    ]

    template = load_template(REAL_TEMPLATE)

    assert set(template.functions) == declared["AWS::Serverless::Function"]
    assert set(template.tables) == declared["AWS::DynamoDB::Table"]
    assert set(template.buckets) == declared["AWS::S3::Bucket"]
    assert set(template.secrets) == declared["AWS::SecretsManager::Secret"]
    assert set(template.state_machines) == declared["AWS::Serverless::StateMachine"]
    assert sorted((route.method, route.path_template) for route in template.api_routes) == sorted(api_events)
    function_arns = {spec.arn for spec in template.functions.values()}
    for machine in template.state_machines.values():
        assert machine.definition["StartAt"] in machine.definition["States"]
        assert _task_resources(machine.definition) <= function_arns
    for spec in template.functions.values():
        assert spec.code_dir.parent == ROOT / "functions"
        assert all(layer.is_dir() for layer in spec.layers)
        assert not any("${" in value for value in spec.environment.values())


def _task_resources(definition: dict) -> set[str]:
    resources = set()
    for state in definition["States"].values():
        if state["Type"] == "Task" and not state["Resource"].startswith("arn:aws:states:::"):  # service integrations aside
            resources.add(state["Resource"])
        if state["Type"] == "Map":
            resources |= _task_resources(state.get("ItemProcessor") or state["Iterator"])
    return resources


def test_the_mini_template_resolves_refs_getatts_subs_and_definition_substitutions():
    template = load_template(MINI_TEMPLATE, {"ItemsConcurrency": "7"}, stack_name=STACK)

    summarise = template.functions["SummariseFunction"]
    assert summarise.name == "mini-SummariseFunction"
    assert summarise.arn == "arn:aws:lambda:eu-west-2:123456789012:function:mini-SummariseFunction"
    assert summarise.environment["GREETING"] == "hello from eu-west-2"
    assert summarise.environment["WORK_BUCKET_ARN"] == "arn:aws:s3:::mini-workbucket"
    assert summarise.environment["WORK_QUEUE_URL"] == "https://sqs.eu-west-2.amazonaws.com/123456789012/mini-WorkQueue"
    assert re.fullmatch(
        r"arn:aws:secretsmanager:eu-west-2:123456789012:secret:mini-ApiSecret-[A-Za-z]{6}",
        summarise.environment["API_SECRET_ARN"],
    )
    assert all(spec.environment["RESULTS_TABLE_NAME"] == "mini-ResultsTable" for spec in template.functions.values())
    assert summarise.handler == "app.lambda_handler" and summarise.timeout == 5 and summarise.memory_size == 256
    assert summarise.layers == [MINI_TEMPLATE.parent / "layer"]
    assert summarise.events["Nightly"]["Type"] == "Schedule"

    machine = template.state_machines["ProcessItemsStateMachine"]
    each_item = machine.definition["States"]["ProcessEachItem"]
    assert each_item["MaxConcurrency"] == 7
    process_item = each_item["ItemProcessor"]["States"]["ProcessItem"]
    assert process_item["Retry"][0]["MaxAttempts"] == 2
    assert process_item["Resource"] == template.functions["ProcessItemFunction"].arn
    assert machine.definition["States"]["Summarise"]["Parameters"]["table"] == "mini-ResultsTable"
    assert machine.arn == "arn:aws:states:eu-west-2:123456789012:stateMachine:mini-ProcessItemsStateMachine"

    assert template.tables["ResultsTable"].ttl_attribute == "expiresAt"
    dead_letters = template.queues["WorkDeadLetterQueue"].arn
    assert template.queues["WorkQueue"].redrive_policy == {"deadLetterTargetArn": dead_letters, "maxReceiveCount": 3}
    secret = json.loads(template.secrets["ApiSecret"].secret_string)
    assert secret["user"] == "mini" and re.fullmatch(r"[A-Za-z0-9]{24}", secret["password"])
    assert {(route.method, route.path_template, route.function, route.stage) for route in template.api_routes} == {
        ("GET", "/items/{itemId}", "EchoApiFunction", "v1"),
        ("POST", "/items", "EchoApiFunction", "v1"),
        ("GET", "/crash", "EchoApiFunction", "v1"),
    }
    [rule] = template.event_rules
    assert (rule.kind, rule.schedule, rule.targets) == ("schedule", "rate(1 day)", ("SummariseFunction",))
    assert template.outputs["StateMachineArn"] == machine.arn
    assert template.parameters["ItemsConcurrency"] == "7"


PASS_DEFINITION = '{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}'


def write_app(tmp_path: Path, *resources: str, definition: str = PASS_DEFINITION, extra: str = "") -> Path:
    """A one-function SAM app in tmp_path; `resources` are YAML snippets of the Resources section."""
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "app.py").write_text("def lambda_handler(event, context):\n    return event\n")
    (tmp_path / "machine.asl.json").write_text(definition)
    template = textwrap.dedent(
        """\
        AWSTemplateFormatVersion: "2010-09-09"
        Transform: AWS::Serverless-2016-10-31
        Parameters:
          Mode:
            Type: String
            Default: quiet
            AllowedValues: [quiet, loud]
        """
    )
    template += textwrap.dedent(extra) + "Resources:\n"
    template += "".join(textwrap.indent(textwrap.dedent(snippet), "  ") for snippet in resources)
    path = tmp_path / "template.yaml"
    path.write_text(template)
    return path


FUNCTION = """\
Fn:
  Type: AWS::Serverless::Function
  Properties:
    CodeUri: fn/
    Handler: app.lambda_handler
    Runtime: python3.11
"""


def test_a_placeholder_left_in_the_definition_is_an_error_naming_the_state_machine(tmp_path):
    path = write_app(
        tmp_path,
        FUNCTION,
        """\
        Machine:
          Type: AWS::Serverless::StateMachine
          Properties:
            DefinitionUri: machine.asl.json
            DefinitionSubstitutions:
              FnArn: !GetAtt Fn.Arn
        """,
        definition='{"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "${FnArm}", "End": true}}}',
    )

    with pytest.raises(TemplateError, match=r"Machine: the definition still contains \$\{FnArm\}"):
        load_template(path)


def test_a_wrong_getatt_in_definition_substitutions_is_an_error_naming_resource_and_property(tmp_path):
    path = write_app(
        tmp_path,
        FUNCTION,
        """\
        Machine:
          Type: AWS::Serverless::StateMachine
          Properties:
            DefinitionUri: machine.asl.json
            DefinitionSubstitutions:
              FnArn: !GetAtt Fn.Nme
        """,
    )

    with pytest.raises(TemplateError, match=r"Machine\.DefinitionSubstitutions\.FnArn: Fn::GetAtt Fn\.Nme"):
        load_template(path)


def test_unknown_refs_and_bad_parameter_values_are_errors(tmp_path):
    path = write_app(
        tmp_path,
        """\
        Fn:
          Type: AWS::Serverless::Function
          Properties:
            CodeUri: fn/
            Handler: app.lambda_handler
            Runtime: python3.11
            Environment:
              Variables:
                TABLE: !Ref MissingTable
        """,
    )

    with pytest.raises(TemplateError, match=r"Fn\.Environment\.Variables\.TABLE: Ref MissingTable names no parameter"):
        load_template(path)
    with pytest.raises(TemplateError, match=r"Mode='shouty' is not one of its AllowedValues"):
        load_template(path, {"Mode": "shouty"})
    with pytest.raises(TemplateError, match=r"\['Nope'\] are not declared"):
        load_template(path, {"Nope": "x"})


def test_conditions_sub_variables_join_and_select_resolve(tmp_path):
    path = write_app(
        tmp_path,
        """\
        Fn:
          Type: AWS::Serverless::Function
          Properties:
            CodeUri: fn/
            Handler: app.lambda_handler
            Runtime: python3.11
            Environment:
              Variables:
                LEVEL: !If [IsLoud, DEBUG, INFO]
                DROPPED: !If [IsLoud, here, !Ref AWS::NoValue]
                LABEL: !Sub ["${Prefix}-${AWS::StackName}-${!Literal}", {Prefix: !Select [1, [a, b, c]]}]
                PATH: !Join [":", [!Ref AWS::Partition, !Ref AWS::URLSuffix]]
        LoudOnly:
          Type: AWS::S3::Bucket
          Condition: IsLoud
        """,
        extra="""\
        Conditions:
          IsLoud: !Equals [!Ref Mode, loud]
        """,
    )

    quiet = load_template(path, stack_name="s")
    loud = load_template(path, {"Mode": "loud"}, stack_name="s")

    quiet_environment = quiet.functions["Fn"].environment
    assert quiet_environment == {"LEVEL": "INFO", "LABEL": "b-s-${Literal}", "PATH": "aws:amazonaws.com"}
    loud_environment = loud.functions["Fn"].environment
    assert (loud_environment["LEVEL"], loud_environment["DROPPED"]) == ("DEBUG", "here")
    assert (quiet.buckets, set(loud.buckets)) == ({}, {"LoudOnly"})


def write_disagreeing_app(tmp_path: Path) -> Path:
    return write_app(
        tmp_path,
        """\
        First:
          Type: AWS::Serverless::Function
          Properties: {CodeUri: fn/, Handler: app.lambda_handler, Environment: {Variables: {MODE: a}}}
        Second:
          Type: AWS::Serverless::Function
          Properties: {CodeUri: fn/, Handler: app.lambda_handler, Environment: {Variables: {MODE: b}}}
        """,
        extra="""\
        Globals:
          Function:
            Runtime: python3.11
        """,
    )


def test_functions_that_disagree_on_an_environment_variable_cannot_share_one_process(tmp_path):
    path = write_disagreeing_app(tmp_path)

    with pytest.raises(LocalCloudError, match=r"MODE is 'a' in First but 'b' in Second"):
        LocalCloud(path)


def test_an_environment_override_settles_a_disagreement(tmp_path):
    assert LocalCloud(write_disagreeing_app(tmp_path), environment_overrides={"MODE": "c"}).environment["MODE"] == "c"


# ---------------------------------------------------------------------------------------------------- cloud


@pytest.fixture(scope="module")
def cloud():
    environment_before = process_environment()

    with LocalCloud(MINI_TEMPLATE, stack_name=STACK, environment_overrides={"MINI_EXTRA": "override"}) as running:
        yield running

    assert LambdaSimpleBackend.invoke is cloud_module._ORIGINAL_INVOKE, "stop() must restore moto's Lambda invoke"
    assert process_environment() == environment_before, "stop() must restore the process environment"


def process_environment() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if key != "PYTEST_CURRENT_TEST"}


def test_the_process_environment_is_every_function_environment_plus_the_overrides(cloud):
    assert os.environ["RESULTS_TABLE_NAME"] == "mini-ResultsTable"
    assert os.environ["GREETING"] == "hello from eu-west-2"
    assert os.environ["MINI_EXTRA"] == "override"
    assert (os.environ["AWS_DEFAULT_REGION"], os.environ["POWERTOOLS_TRACE_DISABLED"]) == ("eu-west-2", "true")


def test_the_lambda_hook_point_is_where_local_cloud_expects_it(cloud):
    """Canary: LocalCloud patches a moto internal. If this fails after a moto upgrade, move the hook."""
    original = cloud_module._ORIGINAL_INVOKE
    assert moto.__version__.startswith("5.2."), f"local/cloud.py was written against moto 5.2, found {moto.__version__}"
    assert list(inspect.signature(original).parameters) == [
        "self", "function_name", "qualifier", "body", "headers", "response_headers",
    ]  # fmt: skip
    assert original.__qualname__ == "LambdaSimpleBackend.invoke"
    assert isinstance(get_backend(cloud.template.account_id, cloud.region), LambdaSimpleBackend)
    assert LambdaSimpleBackend.invoke is not original
    reply = cloud.invoke("ProcessItemFunction", {"runId": "canary", "item": {"id": "c"}})
    assert reply["functionName"] == "mini-ProcessItemFunction"


def test_every_resource_of_the_template_exists_in_moto(cloud):
    template = cloud.template
    table = template.tables["ResultsTable"].name
    ttl = cloud.client("dynamodb").describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expiresAt"}
    cloud.client("s3").head_bucket(Bucket=template.buckets["WorkBucket"].name)
    secret_arn = template.functions["SummariseFunction"].environment["API_SECRET_ARN"]
    secret = cloud.client("secretsmanager").get_secret_value(SecretId=secret_arn)
    assert json.loads(secret["SecretString"])["user"] == "mini"
    queue_url = template.functions["SummariseFunction"].environment["WORK_QUEUE_URL"]
    attributes = cloud.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    assert json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"] == template.queues["WorkDeadLetterQueue"].arn
    functions = {fn["FunctionName"] for fn in cloud.client("lambda").list_functions()["Functions"]}
    assert functions == set(cloud.function_names.values())
    machine = cloud.client("stepfunctions").describe_state_machine(stateMachineArn=cloud.state_machine_arn())
    assert machine["status"] == "ACTIVE"


def test_the_state_machine_maps_real_handlers_retries_transient_errors_and_catches_the_rest(cloud):
    cloud.invocations.reset()
    items = [{"id": f"ok{n}", "sleep": 0.1} for n in range(6)] + [
        {"id": "flaky", "mode": "flaky:2"},  # fails twice, then succeeds on the second retry
        {"id": "hopeless", "mode": "flaky:9"},  # still failing when the two retries are spent
        {"id": "crash", "mode": "crash"},  # a ValueError: not retried, caught
    ]

    execution = cloud.start_execution({"runId": "run-1", "items": items}, name="run-1")
    result = cloud.wait_for_execution(execution, timeout=30)

    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"]) == {
        "runId": "run-1",
        "done": sorted([f"ok{n}" for n in range(6)] + ["flaky"]),
        "failed": {"hopeless": "TransientSyncError", "crash": "ValueError"},
        "table": "mini-ResultsTable",
        "greeting": "hello from eu-west-2",
    }
    rows = cloud.client("dynamodb").query(
        TableName=cloud.template.tables["ResultsTable"].name,
        KeyConditionExpression="runId = :run",
        ExpressionAttributeValues={":run": {"S": "run-1"}},
    )["Items"]
    recorded = {row["itemId"]["S"]: (int(row["attempts"]["N"]), row.get("outcome", {}).get("S")) for row in rows}
    assert recorded == {
        **{f"ok{n}": (1, "DONE") for n in range(6)},
        "flaky": (3, "DONE"),
        "hopeless": (3, None),
        "crash": (1, None),
    }
    process = cloud.invocations["ProcessItemFunction"]
    assert (process.count, process.errors) == (6 + 3 + 3 + 1, 2 + 3 + 1)
    assert 2 <= process.peak_concurrency <= 4  # MaxConcurrency: ${ItemsConcurrency} = 4
    assert cloud.invocations["SummariseFunction"].count == 1


def test_invoke_runs_the_handler_through_lambda_and_reports_its_error(cloud):
    event = {"runId": "direct", "item": {"id": "d1"}}

    by_logical_id = cloud.invoke("ProcessItemFunction", event)
    by_arn = cloud.invoke(cloud.template.functions["ProcessItemFunction"].arn, event)

    assert (by_logical_id["attempts"], by_arn["attempts"]) == (1, 2)
    assert by_logical_id["hasTimeLeft"] is True
    with pytest.raises(LambdaInvocationError) as raised:
        cloud.invoke("ProcessItemFunction", {"runId": "direct", "item": {"id": "d2", "mode": "crash"}})
    assert raised.value.error_type == "ValueError"
    assert raised.value.error_message == "item d2 is malformed"
    assert raised.value.payload["requestId"]
    assert "process_item/app.py" in raised.value.payload["stackTrace"][0]
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        cloud.client("lambda").invoke(FunctionName="no-such-function", Payload=b"{}")


def test_an_event_invocation_returns_at_once_and_runs_the_handler_in_the_background(cloud):
    name = cloud.function_names["ProcessItemFunction"]
    event = {"runId": "async", "item": {"id": "a1", "sleep": 0.3}}

    started = time.monotonic()
    response = cloud.client("lambda").invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(event))

    assert response["StatusCode"] == 202 and time.monotonic() - started < 0.3
    key = {"runId": {"S": "async"}, "itemId": {"S": "a1"}}
    deadline = time.monotonic() + 5
    while "outcome" not in cloud.client("dynamodb").get_item(TableName="mini-ResultsTable", Key=key).get("Item", {}):
        assert time.monotonic() < deadline, "the background invocation never finished"
        time.sleep(0.05)


# ---------------------------------------------------------------------------------------------------- API


@pytest.fixture(scope="module")
def api(cloud):
    with LocalApiGateway(cloud, port=0) as gateway:
        yield gateway.base_url


def test_a_get_reaches_the_handler_with_an_api_gateway_proxy_event(api):
    headers = {"X-Custom": "yes", "User-Agent": "test-agent"}

    response = requests.get(f"{api}/items/abc%20x%2Fy?tag=a&tag=b&single=s", headers=headers, timeout=5)

    assert response.status_code == 200
    assert response.headers["X-Echo"] == "yes"
    assert response.raw.headers.getlist("Set-Cookie") == ["a=1", "b=2"]
    event = response.json()["event"]
    assert event["resource"] == "/items/{itemId}"
    assert event["path"] == "/items/abc x/y"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"itemId": "abc x/y"}
    assert event["queryStringParameters"] == {"tag": "b", "single": "s"}
    assert event["multiValueQueryStringParameters"] == {"tag": ["a", "b"], "single": ["s"]}
    assert event["headers"]["X-Custom"] == "yes" and event["multiValueHeaders"]["X-Custom"] == ["yes"]
    assert (event["body"], event["isBase64Encoded"], event["stageVariables"]) == (None, False, None)
    context = event["requestContext"]
    assert context["stage"] == "v1" and context["path"] == "/v1/items/abc x/y"
    assert context["resourcePath"] == "/items/{itemId}" and context["httpMethod"] == "GET"
    assert context["identity"]["sourceIp"] == "127.0.0.1" and context["identity"]["userAgent"] == "test-agent"
    assert context["apiId"] == "local" and context["accountId"] == "123456789012"
    assert context["requestId"] and isinstance(context["requestTimeEpoch"], int)
    assert response.json()["functionName"] == "mini-EchoApiFunction"


def test_a_post_delivers_the_body_as_a_string(api):
    response = requests.post(f"{api}/items", json={"name": "widget"}, timeout=5)

    assert response.status_code == 201
    event = response.json()["event"]
    assert json.loads(event["body"]) == {"name": "widget"}
    assert (event["httpMethod"], event["pathParameters"], event["queryStringParameters"]) == ("POST", None, None)
    assert event["headers"]["Content-Type"] == "application/json"


def test_a_base64_encoded_response_body_is_decoded(api):
    response = requests.get(f"{api}/items/any?binary=1", timeout=5)

    assert (response.status_code, response.content) == (200, b"\x00\x01binary")
    assert response.headers["Content-Type"] == "application/octet-stream"


def test_unknown_routes_wrong_methods_large_bodies_and_crashes_get_json_errors(api):
    origin = api.removesuffix("/v1")

    not_found = requests.get(f"{api}/nothing", timeout=5)
    without_stage = requests.get(f"{origin}/items/abc", timeout=5)
    wrong_method = requests.delete(f"{api}/items/abc", timeout=5)
    too_large = requests.post(f"{api}/items", data=b"x" * (256 * 1024 + 1), timeout=5)
    crash = requests.get(f"{api}/crash", timeout=5)

    assert (not_found.status_code, not_found.json()) == (
        404,
        {"error": {"code": "ROUTE_NOT_FOUND", "message": "No route for GET /v1/nothing"}},
    )
    assert without_stage.status_code == 404
    assert (wrong_method.status_code, wrong_method.headers["Allow"]) == (405, "GET")
    assert wrong_method.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
    assert (too_large.status_code, too_large.json()["error"]["code"]) == (413, "PAYLOAD_TOO_LARGE")
    assert (crash.status_code, crash.json()) == (
        502,
        {"error": {"code": "INTERNAL_ERROR", "message": "Internal server error"}},
    )


def test_an_authorizer_hook_can_refuse_a_request_before_the_handler_runs(cloud):
    def require_token(request):
        if request.header("Authorization") != "Bearer local":
            route = request.route
            return ApiResponse.error(403, "FORBIDDEN", f"{route.method} {route.path_template} needs a token")
        return None

    with LocalApiGateway(cloud, port=0, authorizer=require_token) as gateway:
        refused = requests.get(f"{gateway.base_url}/items/abc", timeout=5)
        allowed = requests.get(f"{gateway.base_url}/items/abc", headers={"Authorization": "Bearer local"}, timeout=5)

    assert (refused.status_code, refused.json()["error"]["message"]) == (403, "GET /items/{itemId} needs a token")
    assert allowed.status_code == 200
