"""Read a SAM template the way CloudFormation would, without AWS: transform, resolve intrinsics, name resources.

`load_template` rewrites local code/definition/content paths to dummy S3 URIs (samtranslator insists on S3),
transforms the template offline with samtranslator, then resolves `Ref`, `Fn::GetAtt`, `Fn::Sub`, `Fn::Join`,
`Fn::Select`, `Fn::Split`, `Fn::FindInMap`, `Fn::If` and conditions to deterministic local names and ARNs.
State machine definitions get their `DefinitionSubstitutions` applied textually, as Step Functions does.
Anything that cannot be resolved raises `TemplateError` naming the resource and the property.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import logging
import os
import re
import secrets
import string
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

LOG = logging.getLogger(__name__)

DEFAULT_REGION = "eu-west-2"
DEFAULT_ACCOUNT_ID = "123456789012"
DEFAULT_STACK_NAME = "limio-sync-local"

_LOCAL_ARTIFACT_BUCKET = "local-sam-artifacts"
_LOCAL_PATH_PROPERTIES = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::StateMachine": "DefinitionUri",
    "AWS::Serverless::LayerVersion": "ContentUri",
}
_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
_INTRINSICS = {
    "Ref",
    "Condition",
    "Fn::GetAtt",
    "Fn::Sub",
    "Fn::Join",
    "Fn::Select",
    "Fn::Split",
    "Fn::If",
    "Fn::FindInMap",
    "Fn::Base64",
    "Fn::GetAZs",
    "Fn::ImportValue",
    "Fn::Equals",
    "Fn::Not",
    "Fn::And",
    "Fn::Or",
    "Fn::Cidr",
    "Fn::Transform",
    "Fn::ToJsonString",
    "Fn::Length",
}
_HTTP_METHODS = ("get", "post", "put", "delete", "patch", "head", "options")
_ANY_METHOD = "x-amazon-apigateway-any-method"


class TemplateError(Exception):
    """The template cannot be read or resolved locally; the message names the resource and property."""


class _NoValue:
    """`Ref: AWS::NoValue`: the property it sits in is removed."""


NO_VALUE = _NoValue()


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    name: str
    arn: str
    code_dir: Path
    handler: str
    environment: dict[str, str]
    timeout: int
    memory_size: int
    layers: list[Path]
    events: dict[str, Any]
    runtime: str | None = None


@dataclass(frozen=True)
class TableSpec:
    logical_id: str
    name: str
    arn: str
    key_schema: list[dict[str, str]]
    attribute_definitions: list[dict[str, str]]
    billing_mode: str
    global_secondary_indexes: list[dict[str, Any]] = field(default_factory=list)
    local_secondary_indexes: list[dict[str, Any]] = field(default_factory=list)
    provisioned_throughput: dict[str, int] | None = None
    stream_specification: dict[str, Any] | None = None
    ttl_attribute: str | None = None

    def create_table_kwargs(self) -> dict[str, Any]:
        """The arguments of DynamoDB `CreateTable` for this table."""
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "KeySchema": self.key_schema,
            "AttributeDefinitions": self.attribute_definitions,
            "BillingMode": self.billing_mode,
        }
        if self.global_secondary_indexes:
            kwargs["GlobalSecondaryIndexes"] = self.global_secondary_indexes
        if self.local_secondary_indexes:
            kwargs["LocalSecondaryIndexes"] = self.local_secondary_indexes
        if self.provisioned_throughput:
            kwargs["ProvisionedThroughput"] = self.provisioned_throughput
        if self.stream_specification:
            kwargs["StreamSpecification"] = self.stream_specification
        return kwargs


@dataclass(frozen=True)
class BucketSpec:
    logical_id: str
    name: str
    arn: str


@dataclass(frozen=True)
class SecretSpec:
    logical_id: str
    name: str
    arn: str
    secret_string: str | None
    description: str | None = None

    @property
    def arn_suffix(self) -> str:
        """The six random characters Secrets Manager appends to the name in the ARN."""
        return self.arn.rsplit("-", 1)[-1]


@dataclass(frozen=True)
class QueueSpec:
    logical_id: str
    name: str
    arn: str
    url: str
    attributes: dict[str, str]
    redrive_policy: dict[str, Any] | None = None


@dataclass(frozen=True)
class StateMachineSpec:
    logical_id: str
    name: str
    arn: str
    definition: dict[str, Any]
    type: str = "STANDARD"

    @property
    def definition_json(self) -> str:
        return json.dumps(self.definition)


@dataclass(frozen=True)
class ApiRoute:
    method: str
    path_template: str
    function: str
    stage: str
    api: str
    auth: tuple[str, ...] = ()

    @property
    def is_any_method(self) -> bool:
        return self.method == "ANY"


@dataclass(frozen=True)
class EventRule:
    logical_id: str
    kind: str
    schedule: str | None
    pattern: dict[str, Any] | None
    targets: tuple[str, ...]
    enabled: bool = True
    input: str | None = None


@dataclass(frozen=True)
class LocalTemplate:
    path: Path
    region: str
    account_id: str
    stack_name: str
    parameters: dict[str, Any]
    functions: dict[str, FunctionSpec]
    tables: dict[str, TableSpec]
    buckets: dict[str, BucketSpec]
    secrets: dict[str, SecretSpec]
    queues: dict[str, QueueSpec]
    state_machines: dict[str, StateMachineSpec]
    api_routes: list[ApiRoute]
    event_rules: list[EventRule]
    outputs: dict[str, Any]
    cloudformation: dict[str, Any]

    def function(self, name_or_logical_id: str) -> FunctionSpec:
        """A function by logical id, physical name or ARN (with or without a qualifier)."""
        if name_or_logical_id in self.functions:
            return self.functions[name_or_logical_id]
        for spec in self.functions.values():
            if name_or_logical_id in (spec.name, spec.arn) or name_or_logical_id.startswith(spec.arn + ":"):
                return spec
        raise KeyError(f"No function {name_or_logical_id!r} in {self.path}; known: {sorted(self.functions)}")


def load_template(
    path: str | Path,
    parameter_overrides: dict[str, str] | None = None,
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
    stack_name: str = DEFAULT_STACK_NAME,
) -> LocalTemplate:
    """Transform and resolve a SAM template into the specs of every local resource."""
    template_path = Path(path).resolve()
    try:
        sam = yaml_parse(template_path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise TemplateError(f"Cannot read SAM template {template_path}: {error}") from error
    if not isinstance(sam, dict) or not isinstance(sam.get("Resources"), dict):
        raise TemplateError(f"{template_path} has no Resources section")

    local_paths = _rewrite_local_paths(sam, template_path.parent)
    parameters = _resolve_parameters(sam.get("Parameters") or {}, parameter_overrides or {})
    cfn = _transform(sam, parameters, region)
    return _Builder(cfn, sam, local_paths, parameters, template_path, region, account_id, stack_name).build()


def _rewrite_local_paths(sam: dict[str, Any], base_dir: Path) -> dict[tuple[str, str], Path]:
    """Point local paths at dummy S3 URIs `s3://<bucket>/<LogicalId>/<Property>`; return the originals.

    A local OpenAPI `DefinitionUri` of an API is inlined as its `DefinitionBody`, so its routes stay visible.
    """
    local_paths: dict[tuple[str, str], Path] = {}
    for logical_id, resource in sam["Resources"].items():
        properties = resource.get("Properties") or {}
        api_definition = properties.get("DefinitionUri")
        is_api = resource.get("Type") == "AWS::Serverless::Api"
        if is_api and isinstance(api_definition, str) and not api_definition.startswith("s3://"):
            try:
                properties["DefinitionBody"] = yaml_parse((base_dir / api_definition).read_text())
            except (OSError, yaml.YAMLError) as error:
                raise TemplateError(f"{logical_id}.DefinitionUri: cannot read {api_definition}: {error}") from error
            del properties["DefinitionUri"]
        prop = _LOCAL_PATH_PROPERTIES.get(resource.get("Type", ""))
        value = properties.get(prop) if prop else None
        if isinstance(value, str) and not value.startswith("s3://"):
            local_paths[(logical_id, prop)] = (base_dir / value).resolve()
            properties[prop] = f"s3://{_LOCAL_ARTIFACT_BUCKET}/{logical_id}/{prop}"
    globals_function = (sam.get("Globals") or {}).get("Function") or {}
    global_code = globals_function.get("CodeUri")
    if isinstance(global_code, str) and not global_code.startswith("s3://"):
        for logical_id, resource in sam["Resources"].items():
            properties = resource.setdefault("Properties", {})
            if resource.get("Type") == "AWS::Serverless::Function" and "CodeUri" not in properties:
                local_paths[(logical_id, "CodeUri")] = (base_dir / global_code).resolve()
                properties["CodeUri"] = f"s3://{_LOCAL_ARTIFACT_BUCKET}/{logical_id}/CodeUri"
        del globals_function["CodeUri"]
    return local_paths


def _resolve_parameters(declared: dict[str, Any], overrides: dict[str, str]) -> dict[str, Any]:
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise TemplateError(f"Parameter overrides {unknown} are not declared in the template's Parameters")
    resolved: dict[str, Any] = {}
    for name, spec in declared.items():
        spec = spec or {}
        if name in overrides:
            raw = overrides[name]
        elif "Default" in spec:
            raw = spec["Default"]
        else:
            raise TemplateError(f"Parameter {name} has no Default and no override was given")
        resolved[name] = _parameter_value(name, spec, raw)
    return resolved


def _parameter_value(name: str, spec: dict[str, Any], raw: Any) -> Any:
    text = str(raw).lower() if isinstance(raw, bool) else str(raw)
    kind = spec.get("Type", "String")
    if kind == "CommaDelimitedList" or kind.startswith("List<"):
        values = [part.strip() for part in text.split(",")] if text else []
        return values
    allowed = [str(value) for value in spec.get("AllowedValues", [])]
    if allowed and text not in allowed:
        raise TemplateError(f"Parameter {name}={text!r} is not one of its AllowedValues {allowed}")
    pattern = spec.get("AllowedPattern")
    if pattern and not re.fullmatch(pattern, text):
        raise TemplateError(f"Parameter {name}={text!r} does not match its AllowedPattern {pattern!r}")
    if kind == "Number":
        try:
            number = float(text)
        except ValueError:
            raise TemplateError(f"Parameter {name}={text!r} is not a Number") from None
        if "MinValue" in spec and number < float(spec["MinValue"]):
            raise TemplateError(f"Parameter {name}={text} is below its MinValue {spec['MinValue']}")
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            raise TemplateError(f"Parameter {name}={text} is above its MaxValue {spec['MaxValue']}")
    return text


@contextmanager
def _region_env(region: str) -> Iterator[None]:
    previous = os.environ.get("AWS_DEFAULT_REGION")
    os.environ["AWS_DEFAULT_REGION"] = region
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("AWS_DEFAULT_REGION", None)
        else:
            os.environ["AWS_DEFAULT_REGION"] = previous


class _NoManagedPolicies:
    """samtranslator asks IAM for managed policy names; offline it falls back on its bundled list."""

    def load(self) -> dict[str, str]:
        return {}


def _transform(sam: dict[str, Any], parameters: dict[str, Any], region: str) -> dict[str, Any]:
    if "Transform" not in sam:
        return copy.deepcopy(sam)
    with _region_env(region):
        try:
            return transform(copy.deepcopy(sam), dict(parameters), _NoManagedPolicies())  # type: ignore[arg-type]
        except InvalidDocumentException as error:
            causes = "; ".join(cause.message for cause in error.causes)
            raise TemplateError(f"SAM transform failed: {causes}") from error


def _short_hash(text: str, length: int, alphabet: str) -> str:
    digest = int(hashlib.sha256(text.encode()).hexdigest(), 16)
    chars = []
    for _ in range(length):
        digest, index = divmod(digest, len(alphabet))
        chars.append(alphabet[index])
    return "".join(chars)


@dataclass(frozen=True)
class _Identity:
    """What `Ref` and `Fn::GetAtt` return for one resource."""

    ref: Any
    attributes: dict[str, Any]


class _Builder:
    def __init__(
        self,
        cfn: dict[str, Any],
        sam: dict[str, Any],
        local_paths: dict[tuple[str, str], Path],
        parameters: dict[str, Any],
        template_path: Path,
        region: str,
        account_id: str,
        stack_name: str,
    ) -> None:
        self.cfn = cfn
        self.sam = sam
        self.local_paths = local_paths
        self.parameters = parameters
        self.template_path = template_path
        self.region = region
        self.account_id = account_id
        self.stack_name = stack_name
        self.partition = "aws-cn" if region.startswith("cn-") else "aws"
        self.url_suffix = "amazonaws.com.cn" if self.partition == "aws-cn" else "amazonaws.com"
        self.resources: dict[str, dict[str, Any]] = cfn.get("Resources") or {}
        self.conditions: dict[str, bool] = {}
        self._evaluating_conditions: set[str] = set()
        self._identities: dict[str, _Identity] = {}
        self._naming: set[str] = set()
        self.pseudo = {
            "AWS::Region": region,
            "AWS::AccountId": account_id,
            "AWS::StackName": stack_name,
            "AWS::StackId": f"arn:{self.partition}:cloudformation:{region}:{account_id}:stack/{stack_name}/local",
            "AWS::URLSuffix": self.url_suffix,
            "AWS::Partition": self.partition,
            "AWS::NotificationARNs": [],
            "AWS::NoValue": NO_VALUE,
        }

    # ------------------------------------------------------------------ build

    def build(self) -> LocalTemplate:
        for name in self.cfn.get("Conditions") or {}:
            self._condition(name, f"Conditions.{name}")
        self.resources = {
            logical_id: resource
            for logical_id, resource in self.resources.items()
            if "Condition" not in resource or self._condition(resource["Condition"], f"{logical_id}.Condition")
        }
        layers = self._layers()
        functions = {logical_id: self._function(logical_id, layers) for logical_id, _ in self._of_type("AWS::Lambda::Function")}
        return LocalTemplate(
            path=self.template_path,
            region=self.region,
            account_id=self.account_id,
            stack_name=self.stack_name,
            parameters=dict(self.parameters),
            functions=functions,
            tables={lid: self._table(lid) for lid, _ in self._of_type("AWS::DynamoDB::Table")},
            buckets={lid: self._bucket(lid) for lid, _ in self._of_type("AWS::S3::Bucket")},
            secrets={lid: self._secret(lid) for lid, _ in self._of_type("AWS::SecretsManager::Secret")},
            queues={lid: self._queue(lid) for lid, _ in self._of_type("AWS::SQS::Queue")},
            state_machines={lid: self._state_machine(lid) for lid, _ in self._of_type("AWS::StepFunctions::StateMachine")},
            api_routes=self._api_routes(functions),
            event_rules=self._event_rules(),
            outputs=self._outputs(),
            cloudformation=self.cfn,
        )

    def _of_type(self, resource_type: str) -> list[tuple[str, dict[str, Any]]]:
        return [(lid, res) for lid, res in self.resources.items() if res.get("Type") == resource_type]

    def _props(self, logical_id: str) -> dict[str, Any]:
        return self.resources[logical_id].get("Properties") or {}

    def _prop(self, logical_id: str, name: str, default: Any = None) -> Any:
        props = self._props(logical_id)
        if name not in props:
            return default
        value = self.resolve(props[name], f"{logical_id}.{name}")
        return default if value is NO_VALUE else value

    def _local_path(self, s3_location: Any, key_field: str, where: str) -> Path:
        key = s3_location.get(key_field) if isinstance(s3_location, dict) else None
        parts = key.split("/") if isinstance(key, str) else []
        if len(parts) == 2 and (parts[0], parts[1]) in self.local_paths:
            return self.local_paths[(parts[0], parts[1])]
        raise TemplateError(f"{where}: only local paths can run locally, got {s3_location!r}")

    # ------------------------------------------------------------------ resources

    def _layers(self) -> dict[str, Path]:
        """Content directory of every local layer, by layer ARN (what a function's `Layers` resolve to).

        With a `BuildMethod`, `sam build` copies ContentUri into `python/` itself; without one the content
        must already hold `python/`. Layers not built from a local path (e.g. published ARNs) are skipped:
        their packages must come from the local environment.
        """
        layers: dict[str, Path] = {}
        for logical_id, _ in self._of_type("AWS::Lambda::LayerVersion"):
            content = self._props(logical_id).get("Content")
            try:
                content_dir = self._local_path(content, "S3Key", f"{logical_id}.Content")
            except TemplateError:
                LOG.warning("Layer %s has no local ContentUri; its packages must be installed locally", logical_id)
                continue
            sam_logical_id = content["S3Key"].split("/")[0]
            metadata = (self.sam["Resources"].get(sam_logical_id) or {}).get("Metadata") or {}
            if not metadata.get("BuildMethod") and (content_dir / "python").is_dir():
                content_dir = content_dir / "python"
            layers[self.identity(logical_id, logical_id).ref] = content_dir
        return layers

    def _function(self, logical_id: str, layers: dict[str, Path]) -> FunctionSpec:
        props = self._props(logical_id)
        if props.get("PackageType") == "Image" or "ZipFile" in (props.get("Code") or {}):
            raise TemplateError(f"{logical_id}.Code: only functions with a local CodeUri can run locally")
        code_dir = self._local_path(props.get("Code"), "S3Key", f"{logical_id}.Code")
        environment = (self._prop(logical_id, "Environment") or {}).get("Variables") or {}
        where = f"{logical_id}.Environment.Variables"
        layer_dirs = []
        for layer_ref in self._prop(logical_id, "Layers", []):
            if layer_ref in layers:
                layer_dirs.append(layers[layer_ref])
        identity = self.identity(logical_id, logical_id)
        sam_resource = self.sam["Resources"].get(logical_id) or {}
        return FunctionSpec(
            logical_id=logical_id,
            name=identity.ref,
            arn=identity.attributes["Arn"],
            code_dir=code_dir,
            handler=self._prop(logical_id, "Handler", ""),
            environment={key: _env_value(value, f"{where}.{key}") for key, value in environment.items()},
            timeout=int(self._prop(logical_id, "Timeout", 3)),
            memory_size=int(self._prop(logical_id, "MemorySize", 128)),
            layers=layer_dirs,
            events=copy.deepcopy((sam_resource.get("Properties") or {}).get("Events") or {}),
            runtime=self._prop(logical_id, "Runtime"),
        )

    def _table(self, logical_id: str) -> TableSpec:
        identity = self.identity(logical_id, logical_id)
        billing_mode = self._prop(logical_id, "BillingMode", "PROVISIONED")
        ttl = self._prop(logical_id, "TimeToLiveSpecification") or {}
        stream = self._prop(logical_id, "StreamSpecification")
        if stream:
            stream = {"StreamEnabled": True, **stream}
        return TableSpec(
            logical_id=logical_id,
            name=identity.ref,
            arn=identity.attributes["Arn"],
            key_schema=self._prop(logical_id, "KeySchema", []),
            attribute_definitions=self._prop(logical_id, "AttributeDefinitions", []),
            billing_mode=billing_mode,
            global_secondary_indexes=self._prop(logical_id, "GlobalSecondaryIndexes", []),
            local_secondary_indexes=self._prop(logical_id, "LocalSecondaryIndexes", []),
            provisioned_throughput=_int_values(self._prop(logical_id, "ProvisionedThroughput")),
            stream_specification=stream,
            ttl_attribute=ttl.get("AttributeName") if _truthy(ttl.get("Enabled")) else None,
        )

    def _bucket(self, logical_id: str) -> BucketSpec:
        identity = self.identity(logical_id, logical_id)
        return BucketSpec(logical_id=logical_id, name=identity.ref, arn=identity.attributes["Arn"])

    def _secret(self, logical_id: str) -> SecretSpec:
        identity = self.identity(logical_id, logical_id)
        secret_string = self._prop(logical_id, "SecretString")
        generate = self._prop(logical_id, "GenerateSecretString")
        if secret_string is None and generate:
            secret_string = _generate_secret_string(generate, f"{logical_id}.GenerateSecretString")
        return SecretSpec(
            logical_id=logical_id,
            name=self.physical_name(logical_id),
            arn=identity.ref,
            secret_string=secret_string,
            description=self._prop(logical_id, "Description"),
        )

    def _queue(self, logical_id: str) -> QueueSpec:
        identity = self.identity(logical_id, logical_id)
        attributes: dict[str, str] = {}
        redrive_policy = self._prop(logical_id, "RedrivePolicy")
        for prop, value in self._props(logical_id).items():
            if prop in ("QueueName", "Tags", "RedrivePolicy", "RedriveAllowPolicy"):
                continue
            resolved = self.resolve(value, f"{logical_id}.{prop}")
            if resolved is not NO_VALUE:
                attributes[prop] = str(resolved).lower() if isinstance(resolved, bool) else str(resolved)
        if redrive_policy:
            attributes["RedrivePolicy"] = json.dumps(redrive_policy)
        return QueueSpec(
            logical_id=logical_id,
            name=identity.attributes["QueueName"],
            arn=identity.attributes["Arn"],
            url=identity.ref,
            attributes=attributes,
            redrive_policy=redrive_policy,
        )

    def _state_machine(self, logical_id: str) -> StateMachineSpec:
        props = self._props(logical_id)
        if "DefinitionS3Location" in props:
            where = f"{logical_id}.DefinitionS3Location"
            definition_path = self._local_path(props["DefinitionS3Location"], "Key", where)
            try:
                text = definition_path.read_text()
            except OSError as error:
                raise TemplateError(f"{where}: cannot read {definition_path}: {error}") from error
        elif "DefinitionString" in props:
            text = self._prop(logical_id, "DefinitionString")
        elif "Definition" in props:
            text = json.dumps(self._prop(logical_id, "Definition"))
        else:
            raise TemplateError(f"{logical_id}: the state machine has no definition")
        substitutions = self._prop(logical_id, "DefinitionSubstitutions", {})
        for key, value in substitutions.items():
            if isinstance(value, (dict, list)):
                raise TemplateError(f"{logical_id}.DefinitionSubstitutions.{key} must be a scalar, got {value!r}")
            text = text.replace("${" + key + "}", str(value).lower() if isinstance(value, bool) else str(value))
        leftovers = sorted(set(_PLACEHOLDER.findall(text)))
        if leftovers:
            raise TemplateError(
                f"{logical_id}: the definition still contains {', '.join('${' + name + '}' for name in leftovers)} "
                f"after applying DefinitionSubstitutions (keys: {sorted(substitutions)})"
            )
        try:
            definition = json.loads(text)
        except json.JSONDecodeError as error:
            raise TemplateError(f"{logical_id}: the definition is not JSON after substitution: {error}") from error
        identity = self.identity(logical_id, logical_id)
        return StateMachineSpec(
            logical_id=logical_id,
            name=identity.attributes["Name"],
            arn=identity.ref,
            definition=definition,
            type=self._prop(logical_id, "StateMachineType", "STANDARD"),
        )

    def _api_routes(self, functions: dict[str, FunctionSpec]) -> list[ApiRoute]:
        function_by_arn = {spec.arn: logical_id for logical_id, spec in functions.items()}
        stages: dict[str, list[str]] = {}
        for logical_id, _ in self._of_type("AWS::ApiGateway::Stage"):
            api_ref = self._props(logical_id).get("RestApiId")
            if isinstance(api_ref, dict) and "Ref" in api_ref:
                stages.setdefault(api_ref["Ref"], []).append(self._prop(logical_id, "StageName"))
        routes = []
        for api_id, _ in self._of_type("AWS::ApiGateway::RestApi"):
            body = self._props(api_id).get("Body") or {}
            default_security = body.get("security") or []
            for path_template, operations in (body.get("paths") or {}).items():
                for method_key, operation in (operations or {}).items():
                    method = "ANY" if method_key == _ANY_METHOD else method_key.upper()
                    if method_key != _ANY_METHOD and method_key not in _HTTP_METHODS:
                        continue
                    where = f"{api_id}.Body.paths.{path_template}.{method_key}"
                    integration = (operation or {}).get("x-amazon-apigateway-integration") or {}
                    if integration.get("type") != "aws_proxy":
                        continue
                    uri = self.resolve(integration.get("uri"), f"{where}.x-amazon-apigateway-integration.uri")
                    match = re.search(r"/functions/(arn:[^/]+)/invocations", str(uri))
                    function_arn = re.sub(r":[^:]+$", "", match.group(1)) if match else ""
                    target = function_by_arn.get(match.group(1) if match else "") or function_by_arn.get(function_arn)
                    if target is None:
                        continue
                    security = operation.get("security", default_security) or []
                    auth = tuple(sorted({name for requirement in security for name in requirement}))
                    for stage in stages.get(api_id, []):
                        routes.append(ApiRoute(method, path_template, target, stage, api_id, auth))
        return routes

    def _event_rules(self) -> list[EventRule]:
        by_arn = {}
        for logical_id, resource in self.resources.items():
            if resource.get("Type") in ("AWS::Lambda::Function", "AWS::StepFunctions::StateMachine"):
                identity = self.identity(logical_id, logical_id)
                by_arn[identity.attributes["Arn"]] = logical_id
        rules = []
        for logical_id, _ in self._of_type("AWS::Events::Rule"):
            targets = self._prop(logical_id, "Targets", [])
            rules.append(
                EventRule(
                    logical_id=logical_id,
                    kind="schedule" if self._props(logical_id).get("ScheduleExpression") else "rule",
                    schedule=self._prop(logical_id, "ScheduleExpression"),
                    pattern=self._prop(logical_id, "EventPattern"),
                    targets=tuple(by_arn.get(target.get("Arn"), str(target.get("Arn"))) for target in targets),
                    enabled=self._prop(logical_id, "State", "ENABLED") == "ENABLED",
                    input=targets[0].get("Input") if targets else None,
                )
            )
        for logical_id, _ in self._of_type("AWS::Scheduler::Schedule"):
            target = self._prop(logical_id, "Target", {})
            rules.append(
                EventRule(
                    logical_id=logical_id,
                    kind="schedule",
                    schedule=self._prop(logical_id, "ScheduleExpression"),
                    pattern=None,
                    targets=(by_arn.get(target.get("Arn"), str(target.get("Arn"))),),
                    enabled=self._prop(logical_id, "State", "ENABLED") == "ENABLED",
                    input=target.get("Input"),
                )
            )
        return rules

    def _outputs(self) -> dict[str, Any]:
        outputs = {}
        for name, output in (self.cfn.get("Outputs") or {}).items():
            if "Condition" in output and not self._condition(output["Condition"], f"Outputs.{name}.Condition"):
                continue
            try:
                outputs[name] = self.resolve(output.get("Value"), f"Outputs.{name}.Value")
            except TemplateError:
                continue
        return outputs

    # ------------------------------------------------------------------ names and identities

    def physical_name(self, logical_id: str) -> str:
        resource = self.resources[logical_id]
        name_property = {
            "AWS::Lambda::Function": "FunctionName",
            "AWS::DynamoDB::Table": "TableName",
            "AWS::S3::Bucket": "BucketName",
            "AWS::SecretsManager::Secret": "Name",
            "AWS::SQS::Queue": "QueueName",
            "AWS::StepFunctions::StateMachine": "StateMachineName",
            "AWS::IAM::Role": "RoleName",
            "AWS::Lambda::LayerVersion": "LayerName",
            "AWS::SNS::Topic": "TopicName",
            "AWS::Events::Rule": "Name",
            "AWS::Logs::LogGroup": "LogGroupName",
            "AWS::Scheduler::Schedule": "Name",
        }.get(resource.get("Type", ""))
        if name_property and name_property in (resource.get("Properties") or {}):
            if logical_id in self._naming:
                raise TemplateError(f"{logical_id}.{name_property} refers to itself")
            self._naming.add(logical_id)
            try:
                return str(self._prop(logical_id, name_property))
            finally:
                self._naming.discard(logical_id)
        name = f"{self.stack_name}-{logical_id}"
        if resource.get("Type") == "AWS::S3::Bucket":
            return name.lower()[:63]
        if resource.get("Type") == "AWS::SQS::Queue" and _truthy((resource.get("Properties") or {}).get("FifoQueue")):
            return f"{name[:75]}.fifo"
        return name[:64]

    def identity(self, logical_id: str, where: str) -> _Identity:
        if logical_id not in self.resources:
            raise TemplateError(f"{where}: there is no resource {logical_id!r} (or its Condition is false)")
        if logical_id not in self._identities:
            self._identities[logical_id] = self._make_identity(logical_id)
        return self._identities[logical_id]

    def _make_identity(self, logical_id: str) -> _Identity:
        kind = self.resources[logical_id].get("Type", "")
        name = self.physical_name(logical_id)
        p, region, account = self.partition, self.region, self.account_id
        if kind == "AWS::Lambda::Function":
            return _Identity(name, {"Arn": f"arn:{p}:lambda:{region}:{account}:function:{name}"})
        if kind == "AWS::StepFunctions::StateMachine":
            arn = f"arn:{p}:states:{region}:{account}:stateMachine:{name}"
            return _Identity(arn, {"Arn": arn, "Name": name})
        if kind == "AWS::DynamoDB::Table":
            return _Identity(name, {"Arn": f"arn:{p}:dynamodb:{region}:{account}:table/{name}"})
        if kind == "AWS::S3::Bucket":
            return _Identity(
                name,
                {
                    "Arn": f"arn:{p}:s3:::{name}",
                    "DomainName": f"{name}.s3.{self.url_suffix}",
                    "RegionalDomainName": f"{name}.s3.{region}.{self.url_suffix}",
                },
            )
        if kind == "AWS::SQS::Queue":
            url = f"https://sqs.{region}.{self.url_suffix}/{account}/{name}"
            return _Identity(url, {"Arn": f"arn:{p}:sqs:{region}:{account}:{name}", "QueueName": name, "QueueUrl": url})
        if kind == "AWS::SecretsManager::Secret":
            suffix = _short_hash(f"{account}:{region}:{name}", 6, string.ascii_letters)
            arn = f"arn:{p}:secretsmanager:{region}:{account}:secret:{name}-{suffix}"
            return _Identity(arn, {"Id": arn})
        if kind == "AWS::IAM::Role":
            role_id = "AROA" + _short_hash(name, 17, string.ascii_uppercase + string.digits)
            return _Identity(name, {"Arn": f"arn:{p}:iam::{account}:role/{name}", "RoleId": role_id})
        if kind == "AWS::Lambda::LayerVersion":
            arn = f"arn:{p}:lambda:{region}:{account}:layer:{name}:1"
            return _Identity(arn, {"LayerVersionArn": arn})
        if kind == "AWS::SNS::Topic":
            arn = f"arn:{p}:sns:{region}:{account}:{name}"
            return _Identity(arn, {"TopicArn": arn, "TopicName": name})
        if kind == "AWS::Events::Rule":
            return _Identity(name, {"Arn": f"arn:{p}:events:{region}:{account}:rule/{name}"})
        if kind == "AWS::Scheduler::Schedule":
            return _Identity(name, {"Arn": f"arn:{p}:scheduler:{region}:{account}:schedule/default/{name}"})
        if kind == "AWS::Logs::LogGroup":
            return _Identity(name, {"Arn": f"arn:{p}:logs:{region}:{account}:log-group:{name}:*"})
        if kind in ("AWS::ApiGateway::RestApi", "AWS::ApiGatewayV2::Api"):
            api_id = _short_hash(f"{self.stack_name}:{logical_id}", 10, string.ascii_lowercase + string.digits)
            root_id = _short_hash(f"{api_id}:root", 10, string.ascii_lowercase + string.digits)
            return _Identity(api_id, {"RestApiId": api_id, "RootResourceId": root_id, "ApiId": api_id})
        if kind == "AWS::ApiGateway::Stage":
            return _Identity(self._prop(logical_id, "StageName", name), {})
        if kind == "AWS::ApiGateway::Deployment":
            return _Identity(_short_hash(name, 6, string.ascii_lowercase + string.digits), {})
        return _Identity(name, {})

    # ------------------------------------------------------------------ intrinsics

    def resolve(self, value: Any, where: str) -> Any:
        if isinstance(value, list):
            items = [self.resolve(item, f"{where}[{index}]") for index, item in enumerate(value)]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key in _INTRINSICS:
                return self._intrinsic(key, argument, where)
        resolved = {key: self.resolve(item, f"{where}.{key}") for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def _intrinsic(self, key: str, argument: Any, where: str) -> Any:
        handler: Callable[[Any, str], Any] | None = {
            "Ref": self._ref,
            "Fn::GetAtt": self._get_att,
            "Fn::Sub": self._sub,
            "Fn::Join": self._join,
            "Fn::Select": self._select,
            "Fn::Split": self._split,
            "Fn::If": self._if,
            "Fn::FindInMap": self._find_in_map,
            "Fn::Base64": self._base64,
            "Fn::ToJsonString": self._to_json_string,
            "Fn::Length": self._length,
        }.get(key)
        if handler is None:
            raise TemplateError(f"{where}: {key} is not supported locally")
        return handler(argument, where)

    def _ref(self, name: Any, where: str) -> Any:
        if not isinstance(name, str):
            raise TemplateError(f"{where}: Ref needs a name, got {name!r}")
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name.startswith("AWS::"):
            raise TemplateError(f"{where}: pseudo parameter {name} is not supported locally")
        if name not in self.resources:
            raise TemplateError(f"{where}: Ref {name} names no parameter or resource")
        return self.identity(name, where).ref

    def _get_att(self, argument: Any, where: str) -> Any:
        if isinstance(argument, str):
            logical_id, _, attribute = argument.partition(".")
        elif isinstance(argument, list) and len(argument) == 2:
            logical_id, attribute = argument[0], self.resolve(argument[1], where)
        else:
            raise TemplateError(f"{where}: Fn::GetAtt needs [LogicalId, Attribute], got {argument!r}")
        identity = self.identity(logical_id, where)
        if attribute not in identity.attributes:
            kind = self.resources[logical_id].get("Type")
            known = ", ".join(sorted(identity.attributes)) or "none"
            raise TemplateError(
                f"{where}: Fn::GetAtt {logical_id}.{attribute} is not an attribute of {kind} {logical_id} (supported locally: {known})"
            )
        return identity.attributes[attribute]

    def _sub(self, argument: Any, where: str) -> str:
        if isinstance(argument, str):
            text, variables = argument, {}
        elif isinstance(argument, list) and len(argument) == 2 and isinstance(argument[1], dict):
            text = self.resolve(argument[0], where)
            variables = {name: self.resolve(value, f"{where}.{name}") for name, value in argument[1].items()}
        else:
            raise TemplateError(f"{where}: Fn::Sub needs a string or [string, {{variables}}], got {argument!r}")
        if not isinstance(text, str):
            raise TemplateError(f"{where}: Fn::Sub template must be a string, got {text!r}")

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                value = variables[name]
            elif "." in name and not name.startswith("AWS::"):
                value = self._get_att(name, where)
            else:
                value = self._ref(name, where)
            if isinstance(value, (list, dict)) or value is NO_VALUE:
                raise TemplateError(f"{where}: Fn::Sub variable ${{{name}}} resolves to {value!r}, not a string")
            return str(value)

        return _PLACEHOLDER.sub(replace, text)

    def _join(self, argument: Any, where: str) -> str:
        if not (isinstance(argument, list) and len(argument) == 2):
            raise TemplateError(f"{where}: Fn::Join needs [delimiter, [values]], got {argument!r}")
        values = self.resolve(argument[1], where)
        if not isinstance(values, list) or any(isinstance(value, (list, dict)) for value in values):
            raise TemplateError(f"{where}: Fn::Join values must resolve to a list of strings, got {values!r}")
        return str(argument[0]).join(str(value) for value in values)

    def _select(self, argument: Any, where: str) -> Any:
        if not (isinstance(argument, list) and len(argument) == 2):
            raise TemplateError(f"{where}: Fn::Select needs [index, [values]], got {argument!r}")
        index = int(self.resolve(argument[0], where))
        values = self.resolve(argument[1], where)
        if not isinstance(values, list) or not 0 <= index < len(values):
            raise TemplateError(f"{where}: Fn::Select index {index} is out of range of {values!r}")
        return values[index]

    def _split(self, argument: Any, where: str) -> list[str]:
        if not (isinstance(argument, list) and len(argument) == 2):
            raise TemplateError(f"{where}: Fn::Split needs [delimiter, string], got {argument!r}")
        text = self.resolve(argument[1], where)
        if not isinstance(text, str):
            raise TemplateError(f"{where}: Fn::Split needs a string, got {text!r}")
        return text.split(str(argument[0]))

    def _if(self, argument: Any, where: str) -> Any:
        if not (isinstance(argument, list) and len(argument) == 3):
            raise TemplateError(f"{where}: Fn::If needs [condition, then, else], got {argument!r}")
        chosen = argument[1] if self._condition(argument[0], where) else argument[2]
        return self.resolve(chosen, where)

    def _find_in_map(self, argument: Any, where: str) -> Any:
        if not (isinstance(argument, list) and len(argument) in (3, 4)):
            raise TemplateError(f"{where}: Fn::FindInMap needs [map, top key, second key], got {argument!r}")
        map_name, top, second = (self.resolve(part, where) for part in argument[:3])
        try:
            return (self.cfn.get("Mappings") or {})[map_name][top][second]
        except KeyError:
            if len(argument) == 4 and isinstance(argument[3], dict) and "DefaultValue" in argument[3]:
                return self.resolve(argument[3]["DefaultValue"], where)
            raise TemplateError(f"{where}: Fn::FindInMap {map_name}/{top}/{second} is not in Mappings") from None

    def _base64(self, argument: Any, where: str) -> str:
        return base64.b64encode(str(self.resolve(argument, where)).encode()).decode()

    def _to_json_string(self, argument: Any, where: str) -> str:
        return json.dumps(self.resolve(argument, where), separators=(",", ":"))

    def _length(self, argument: Any, where: str) -> int:
        values = self.resolve(argument, where)
        if not isinstance(values, list):
            raise TemplateError(f"{where}: Fn::Length needs a list, got {values!r}")
        return len(values)

    def _condition(self, condition: Any, where: str) -> bool:
        if isinstance(condition, str):
            if condition in self.conditions:
                return self.conditions[condition]
            declared = self.cfn.get("Conditions") or {}
            if condition not in declared:
                raise TemplateError(f"{where}: condition {condition!r} is not declared in Conditions")
            if condition in self._evaluating_conditions:
                raise TemplateError(f"{where}: condition {condition!r} refers to itself")
            self._evaluating_conditions.add(condition)
            try:
                self.conditions[condition] = self._condition(declared[condition], f"Conditions.{condition}")
            finally:
                self._evaluating_conditions.discard(condition)
            return self.conditions[condition]
        if isinstance(condition, dict) and len(condition) == 1:
            ((key, argument),) = condition.items()
            if key == "Condition":
                return self._condition(argument, where)
            if key == "Fn::Equals" and isinstance(argument, list) and len(argument) == 2:
                left, right = (self.resolve(part, where) for part in argument)
                return str(left) == str(right)
            if key == "Fn::Not" and isinstance(argument, list) and len(argument) == 1:
                return not self._condition(argument[0], where)
            if key == "Fn::And" and isinstance(argument, list):
                return all(self._condition(part, where) for part in argument)
            if key == "Fn::Or" and isinstance(argument, list):
                return any(self._condition(part, where) for part in argument)
        raise TemplateError(f"{where}: cannot evaluate condition {condition!r} locally")


def _env_value(value: Any, where: str) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (dict, list)):
        raise TemplateError(f"{where}: an environment variable must resolve to a string, got {value!r}")
    return str(value)


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _int_values(value: dict[str, Any] | None) -> dict[str, int] | None:
    return {key: int(item) for key, item in value.items()} if value else None


def _generate_secret_string(spec: dict[str, Any], where: str) -> str:
    """Honour GenerateSecretString: a random password, alone or under GenerateStringKey in the template."""
    alphabet = ""
    if not _truthy(spec.get("ExcludeLowercase")):
        alphabet += string.ascii_lowercase
    if not _truthy(spec.get("ExcludeUppercase")):
        alphabet += string.ascii_uppercase
    if not _truthy(spec.get("ExcludeNumbers")):
        alphabet += string.digits
    if not _truthy(spec.get("ExcludePunctuation")):
        alphabet += string.punctuation
    if _truthy(spec.get("IncludeSpace")):
        alphabet += " "
    alphabet = "".join(char for char in alphabet if char not in str(spec.get("ExcludeCharacters", "")))
    if not alphabet:
        raise TemplateError(f"{where}: every character class is excluded")
    password = "".join(secrets.choice(alphabet) for _ in range(int(spec.get("PasswordLength", 32))))
    template, key = spec.get("SecretStringTemplate"), spec.get("GenerateStringKey")
    if template is None and key is None:
        return password
    if template is None or key is None:
        raise TemplateError(f"{where}: SecretStringTemplate and GenerateStringKey go together")
    try:
        document = json.loads(template)
    except json.JSONDecodeError as error:
        raise TemplateError(f"{where}.SecretStringTemplate is not JSON: {error}") from error
    document[key] = password
    return json.dumps(document)
