"""What the deployed template promises an operator, read from the template as CloudFormation gets it (after the
SAM transform): alarms that reach someone, API Gateway's own answers in the API's error shape, who called in the
access log, data that survives a stack delete, logs that expire, nothing lost on the way to JobFailureFunction,
a bucket that refuses clear text, an optional caller allow-list, a global bound on Zuora requests."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from local.sam_template import load_template

pytestmark = pytest.mark.filterwarnings("ignore:There are unpublished metrics")

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
ASL = ROOT / "statemachine" / "sync_customer.asl.json"


@pytest.fixture(scope="module")
def resources() -> dict:
    return load_template(TEMPLATE).cloudformation["Resources"]


def of_type(resources: dict, kind: str) -> dict:
    return {logical_id: resource for logical_id, resource in resources.items() if resource["Type"] == kind}


def statements(policy: dict) -> list[dict]:
    found = policy["Statement"]
    return found if isinstance(found, list) else [found]


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def referenced_id(value) -> str:
    """The logical id a Ref or GetAtt names."""
    if "Ref" in value:
        return value["Ref"]
    return value["Fn::GetAtt"][0] if isinstance(value["Fn::GetAtt"], list) else value["Fn::GetAtt"].split(".")[0]


# ------------------------------------------------------------------ alarms


def test_every_alarm_action_is_a_topic_cloudwatch_can_publish_to(resources):
    alarms = of_type(resources, "AWS::CloudWatch::Alarm")
    assert alarms

    for name, alarm in alarms.items():
        actions = alarm["Properties"]["AlarmActions"]
        assert actions, f"{name} notifies nobody"
        for action in actions:
            topic_id = referenced_id(action)
            topic = resources[topic_id]
            assert topic["Type"] == "AWS::SNS::Topic", f"{name}: {topic_id} is not a topic of this stack"
            key_ref = topic["Properties"]["KmsMasterKeyId"]
            assert isinstance(key_ref, dict), f"{topic_id} is encrypted with {key_ref}, an AWS managed key CloudWatch cannot use"
            key = resources[referenced_id(key_ref)]
            assert key["Type"] == "AWS::KMS::Key"
            grants = [
                s
                for s in statements(key["Properties"]["KeyPolicy"])
                if s["Effect"] == "Allow" and "cloudwatch.amazonaws.com" in as_list(s.get("Principal", {}).get("Service", []))
            ]
            granted = {action for s in grants for action in as_list(s["Action"])}
            assert {"kms:Decrypt", "kms:GenerateDataKey*"} <= granted, f"{topic_id}'s key does not let CloudWatch publish"
            topic_policies = [p for p in of_type(resources, "AWS::SNS::TopicPolicy").values() if action in p["Properties"]["Topics"]]
            for policy in topic_policies:  # without one, the default topic policy lets the account's services publish
                publishers = [
                    s
                    for s in statements(policy["Properties"]["PolicyDocument"])
                    if s["Effect"] == "Allow" and "cloudwatch.amazonaws.com" in as_list(s["Principal"].get("Service", []))
                ]
                assert any("sns:Publish" in as_list(s["Action"]) for s in publishers)


def test_the_dead_letter_queue_of_failed_execution_events_alarms_too(resources):
    [rule] = of_type(resources, "AWS::Events::Rule").values()
    [target] = rule["Properties"]["Targets"]
    queue_id = referenced_id(target["DeadLetterConfig"]["Arn"])

    watched = [a["Properties"]["Dimensions"][0]["Value"] for a in of_type(resources, "AWS::CloudWatch::Alarm").values()]

    assert {"Fn::GetAtt": [queue_id, "QueueName"]} in watched
    [queue_policy] = [p for p in of_type(resources, "AWS::SQS::QueuePolicy").values() if {"Ref": queue_id} in p["Properties"]["Queues"]]
    [statement] = statements(queue_policy["Properties"]["PolicyDocument"])
    assert statement["Principal"] == {"Service": "events.amazonaws.com"} and statement["Action"] == "sqs:SendMessage"


# ------------------------------------------------------------------ the API's answers and its access log


def gateway_responses(resources: dict) -> dict:
    [api] = of_type(resources, "AWS::ApiGateway::RestApi").values()
    return api["Properties"]["Body"]["x-amazon-apigateway-gateway-responses"]


def test_api_gateways_own_answers_use_the_error_envelope(resources):
    responses = gateway_responses(resources)
    quoted_message = json.dumps("Missing Authentication Token")  # what $context.error.messageString becomes

    # The answers LFS meets before any function runs: bad or missing signature, throttling, too large, no route, 5xx.
    for response_type in (
        "DEFAULT_4XX",
        "DEFAULT_5XX",
        "MISSING_AUTHENTICATION_TOKEN",
        "INVALID_SIGNATURE",
        "EXPIRED_TOKEN",
        "ACCESS_DENIED",
        "THROTTLED",
        "REQUEST_TOO_LARGE",
        "RESOURCE_NOT_FOUND",
    ):
        template = responses[response_type]["responseTemplates"]["application/json"]
        body = json.loads(template.replace("$context.error.messageString", quoted_message))
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, response_type
        assert re.fullmatch(r"[A-Z][A-Z_]+", body["error"]["code"]), response_type
        assert body["error"]["message"] == "Missing Authentication Token"


def test_a_throttled_caller_is_told_when_to_retry(resources):
    assert gateway_responses(resources)["THROTTLED"]["responseParameters"] == {"gatewayresponse.header.Retry-After": "'1'"}


def test_access_logs_record_who_called_and_expire(resources):
    [stage] = of_type(resources, "AWS::ApiGateway::Stage").values()
    setting = stage["Properties"]["AccessLogSetting"]

    log_group = resources[referenced_id(setting["DestinationArn"])]
    fields = json.loads(setting["Format"])

    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert log_group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert fields["userArn"] == "$context.identity.userArn" and fields["caller"] == "$context.identity.caller"
    assert {"requestId", "status", "httpMethod", "resourcePath"} <= set(fields)


def resource_policy(parameters: dict[str, str]) -> list[dict]:
    cfn = load_template(TEMPLATE, parameters).cloudformation
    [api] = of_type(cfn["Resources"], "AWS::ApiGateway::RestApi").values()
    return statements(api["Properties"]["Body"]["x-amazon-apigateway-policy"])


def test_an_api_resource_policy_can_restrict_callers_to_configured_principals():
    allowed = "arn:aws:iam::123456789012:role/lfs-integration"

    [restricted] = resource_policy({"ApiAllowedPrincipalArns": allowed})
    [unrestricted] = resource_policy({})

    assert restricted["Effect"] == "Deny" and restricted["Action"] == "execute-api:Invoke"
    condition = restricted["Condition"]["ArnNotLike"]["aws:PrincipalArn"]
    assert condition["Fn::If"][0] == "RestrictApiCallers" and condition["Fn::If"][1] == [allowed]
    # Without principals the pattern matches everyone, so the same statement denies nobody; no Allow for "*" is added,
    # which would open the API to other accounts.
    assert unrestricted["Condition"]["ArnNotLike"]["aws:PrincipalArn"]["Fn::If"][2] == ["*"]
    assert not [s for s in resource_policy({}) if s["Effect"] == "Allow"]


# ------------------------------------------------------------------ data that survives, logs that expire


@pytest.mark.parametrize(
    "logical_id",
    ["SyncJobsTable", "LimioSubscriptionsTable", "LimioCustomersTable", "ZuoraCredentialsSecret", "FailedSyncsDeadLetterQueue"],
)
def test_limios_data_survives_a_stack_delete_or_a_replacement(resources, logical_id):
    resource = resources[logical_id]

    assert (resource.get("DeletionPolicy"), resource.get("UpdateReplacePolicy")) == ("Retain", "Retain")
    if resource["Type"] == "AWS::DynamoDB::Table":
        assert resource["Properties"]["DeletionProtectionEnabled"] is True
        assert resource["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


def test_every_functions_log_group_keeps_log_retention_days(resources):
    functions = of_type(resources, "AWS::Lambda::Function")
    retained = {
        group["Properties"]["LogGroupName"]["Fn::Sub"]: group["Properties"]["RetentionInDays"]
        for group in of_type(resources, "AWS::Logs::LogGroup").values()
        if isinstance(group["Properties"]["LogGroupName"], dict)
    }

    assert functions
    for logical_id in functions:
        assert retained.get(f"/aws/lambda/${{{logical_id}}}") == {"Ref": "LogRetentionDays"}, f"{logical_id} keeps its logs forever"


def test_the_work_bucket_refuses_requests_without_tls(resources):
    [policy] = of_type(resources, "AWS::S3::BucketPolicy").values()

    denials = [s for s in statements(policy["Properties"]["PolicyDocument"]) if s["Effect"] == "Deny"]

    assert policy["Properties"]["Bucket"] == {"Ref": "SyncWorkBucket"}
    [tls] = [s for s in denials if s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}]
    assert tls["Principal"] == "*" and tls["Action"] == "s3:*"
    assert {"Fn::GetAtt": ["SyncWorkBucket", "Arn"]} in tls["Resource"]
    assert {"Fn::Sub": "${SyncWorkBucket.Arn}/*"} in tls["Resource"]


# ------------------------------------------------------------------ budgets


def test_a_lambda_timeout_or_unhandled_crash_is_retried_like_a_transient_error():
    definition = json.loads(re.sub(r"\$\{\w+\}", "1", ASL.read_text()))
    sync_task = definition["States"]["SyncEachSubscription"]["ItemProcessor"]["States"]["SyncSubscription"]

    [retry] = [r for r in sync_task["Retry"] if "TransientSyncError" in r["ErrorEquals"]]

    # Step Functions reports a Lambda timeout or out-of-memory as Lambda.Unknown, a task past its TimeoutSeconds as
    # States.Timeout (https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html).
    assert {"Lambda.Unknown", "States.Timeout"} <= set(retry["ErrorEquals"])


def test_the_global_zuora_bound_is_a_parameter_well_under_zuoras_limit_given_to_the_functions_that_call_zuora():
    template = load_template(TEMPLATE)
    parameter = template.cloudformation["Parameters"]["ZuoraMaxConcurrentRequests"]

    assert parameter["MaxValue"] <= 40 and parameter["Default"] <= 20  # Zuora's default tenant limit is 40, shared
    for function in ("PlanSyncFunction", "SyncSubscriptionFunction"):
        environment = template.functions[function].environment
        assert environment["ZUORA_MAX_CONCURRENT_REQUESTS"] == str(parameter["Default"])
        assert environment["ZUORA_PERMITS_TABLE_NAME"] == template.tables["ZuoraRequestPermitsTable"].name
