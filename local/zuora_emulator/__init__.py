"""A local Zuora REST API emulator for the Zuora → Limio sync; usage and tenant format in docs/zuora-emulator.md.

`with ZuoraEmulator("local/tenants/demo.json") as emu:` serves the tenant on a free port; point the Zuora
client at `emu.base_url` with `emu.client_id` / `emu.client_secret`.
"""

from pathlib import Path

from local.zuora_emulator.admin import ACTIONS, AdminError, ChangeTrigger
from local.zuora_emulator.faults import FaultRule
from local.zuora_emulator.server import ZuoraEmulator
from local.zuora_emulator.stats import EmulatorStats
from local.zuora_emulator.tenant import Tenant, TenantError, load_tenant

DEMO_TENANT_PATH = Path(__file__).resolve().parents[1] / "tenants" / "demo.json"

__all__ = [
    "ACTIONS",
    "DEMO_TENANT_PATH",
    "AdminError",
    "ChangeTrigger",
    "EmulatorStats",
    "FaultRule",
    "Tenant",
    "TenantError",
    "ZuoraEmulator",
    "load_tenant",
]
