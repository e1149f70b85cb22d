"""The whole service on one machine: the Zuora emulator, the SAM application on moto (real state machine,
real handlers) and the API on localhost. Used by `make serve`, `make demo` and the integration tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from limio_sync.process_state import reset as reset_process_state
from local.api_gateway import LocalApiGateway
from local.auth import ApiCredentials, SigV4Verifier
from local.cloud import LocalCloud
from local.events import LocalEventBridge
from local.zuora_emulator import ZuoraEmulator

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
DEMO_TENANT = ROOT / "local" / "tenants" / "demo.json"
DEMO_CATALOG = ROOT / "local" / "catalog" / "demo.json"
CREDENTIALS_SECRET = "ZuoraCredentialsSecret"  # noqa: S105 - the logical id of the secret, not a secret


class LocalSyncService:
    """Start with `with LocalSyncService(tenant) as service:`; `service.api_url` is the API base URL.

    Like API Gateway with AWS_IAM, the API answers only SigV4-signed requests (`require_signature=False` turns
    that off): sign with `service.credentials`, generated per run unless given or set in the environment
    (LOCAL_API_ACCESS_KEY_ID / LOCAL_API_SECRET_ACCESS_KEY).
    """

    def __init__(
        self,
        tenant: str | Path | dict = DEMO_TENANT,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        parameter_overrides: dict[str, str] | None = None,
        environment_overrides: dict[str, str] | None = None,
        emit_metrics: bool = False,
        catalog: str | Path | dict = DEMO_CATALOG,
        require_signature: bool = True,
        credentials: ApiCredentials | None = None,
        run_schedules: bool = False,
    ):
        self.emulator = ZuoraEmulator(tenant)
        self.require_signature = require_signature
        self.credentials = credentials or ApiCredentials.from_environment() or ApiCredentials.generate()
        self._host, self._port = host, port
        # moto's interpreter runs only STANDARD children of a distributed Map; AWS runs the template's default
        # (EXPRESS). A local difference, listed in README.md ("Local versus AWS").
        self._parameters = {"MapMaxConcurrency": "10", "LogLevel": "WARNING", "MapChildExecutionType": "STANDARD", **(parameter_overrides or {})}
        # Metrics are CloudWatch EMF lines on stdout; locally they would drown the demo's output.
        self._environment = {"POWERTOOLS_METRICS_DISABLED": str(not emit_metrics).lower(), **(environment_overrides or {})}
        self._catalog = catalog
        self._run_schedules = run_schedules
        self.cloud: LocalCloud | None = None
        self.events: LocalEventBridge | None = None
        self.gateway: LocalApiGateway | None = None
        self.api_url = ""

    def start(self) -> str:
        reset_process_state()  # a new stack starts cold, like new Lambda containers
        zuora_url = self.emulator.start(host="127.0.0.1", port=0)
        self.cloud = LocalCloud(
            template_path=TEMPLATE,
            parameter_overrides=self._parameters,
            environment_overrides={"ZUORA_BASE_URL": zuora_url, **self._environment},
        )
        self.cloud.start()
        self._store_zuora_credentials()
        self.put_catalog_mapping(self._catalog)
        self.events = LocalEventBridge(self.cloud, run_schedules=self._run_schedules)
        self.events.start()
        verifier = (
            SigV4Verifier([self.credentials], region=self.cloud.region, account_id=self.cloud.template.account_id) if self.require_signature else None
        )
        self.gateway = LocalApiGateway(self.cloud, host=self._host, port=self._port, authorizer=verifier)
        self.api_url = self.gateway.start()
        return self.api_url

    def stop(self) -> None:
        if self.gateway:
            self.gateway.stop()
        if self.events:
            self.events.stop()
        if self.cloud:
            self.cloud.stop()
        self.emulator.stop()

    def __enter__(self) -> LocalSyncService:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _store_zuora_credentials(self) -> None:
        """Locally, the credentials the functions read from Secrets Manager are the emulator tenant's."""
        assert self.cloud is not None
        secret_arn = self.cloud.template.secrets[CREDENTIALS_SECRET].arn
        self.cloud.client("secretsmanager").put_secret_value(
            SecretId=secret_arn,
            SecretString=json.dumps({"clientId": self.emulator.client_id, "clientSecret": self.emulator.client_secret}),
        )

    def put_catalog_mapping(self, catalog: str | Path | dict) -> None:
        """Publish a catalog mapping file ({"ratePlans": {productRatePlanId: {offerPath, type}}}) as the
        deployment would: one SSM parameter per rate plan under CatalogMappingPath."""
        assert self.cloud is not None
        document = catalog if isinstance(catalog, dict) else json.loads(Path(catalog).read_text())
        path = self.cloud.template.parameters["CatalogMappingPath"]
        ssm = self.cloud.client("ssm")
        for rate_plan_id, entry in document.get("ratePlans", {}).items():
            ssm.put_parameter(Name=f"{path}/{rate_plan_id}", Value=json.dumps(entry), Type="String", Overwrite=True)

    def limio_subscriptions(self) -> list[dict]:
        """Every subscription record Limio holds (the local table), sorted by number."""
        assert self.cloud is not None
        table = self.cloud.template.tables["LimioSubscriptionsTable"].name
        items: list[dict] = []
        paginator = self.cloud.client("dynamodb").get_paginator("scan")
        for page in paginator.paginate(TableName=table):
            items.extend(page["Items"])
        plain = TypeDeserializer()
        records = [{k: plain.deserialize(v) for k, v in item.items()} for item in items]
        return sorted(records, key=lambda r: r["subscriptionNumber"])
