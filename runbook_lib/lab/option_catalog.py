"""Which RDS for MySQL option-group options exist for which major version, as the lab answers
DescribeOptionGroupOptions and checks ModifyOptionGroup.

Source: RDS User Guide, "Options for MySQL DB instances" (Appendix.MySQL.Options): MARIADB_AUDIT_PLUGIN on all
MySQL 5.7 versions, MySQL 8.0.28 and higher 8.0 versions, all 8.4 versions; MEMCACHED on all MySQL 5.7 and 8.0
versions (not 8.4). Those are the only two options RDS for MySQL has. Setting names: the pages for each option
(Appendix.MySQL.Options.AuditPlugin, Appendix.MySQL.Options.memcached)."""

from __future__ import annotations

from typing import Any

_AUDIT_SETTINGS = ("SERVER_AUDIT", "SERVER_AUDIT_EVENTS", "SERVER_AUDIT_EXCL_USERS", "SERVER_AUDIT_FILE_PATH",
                   "SERVER_AUDIT_FILE_ROTATE_SIZE", "SERVER_AUDIT_FILE_ROTATIONS", "SERVER_AUDIT_INCL_USERS",
                   "SERVER_AUDIT_LOGGING", "SERVER_AUDIT_QUERY_LOG_LIMIT")
_MEMCACHED_SETTINGS = ("BACKLOG_QUEUE_LIMIT", "BINDING_PROTOCOL", "CAS_DISABLED", "CHUNK_SIZE",
                       "CHUNK_SIZE_GROWTH_FACTOR", "DAEMON_MEMCACHED_R_BATCH_SIZE", "DAEMON_MEMCACHED_W_BATCH_SIZE",
                       "ERROR_ON_MEMORY_EXHAUSTED", "INNODB_API_BK_COMMIT_INTERVAL", "INNODB_API_DISABLE_ROWLOCK",
                       "INNODB_API_ENABLE_MDL", "INNODB_API_TRX_LEVEL", "MAX_SIMULTANEOUS_CONNECTIONS", "VERBOSITY")

# (option, major version) -> minimum minor version (None: every minor version of that major)
AVAILABLE: dict[tuple[str, str], str | None] = {
    ("MARIADB_AUDIT_PLUGIN", "5.7"): None,
    ("MARIADB_AUDIT_PLUGIN", "8.0"): "28",
    ("MARIADB_AUDIT_PLUGIN", "8.4"): None,
    ("MEMCACHED", "5.7"): None,
    ("MEMCACHED", "8.0"): None,
}
_DETAILS: dict[str, dict[str, Any]] = {
    "MARIADB_AUDIT_PLUGIN": {"Description": "MariaDB Audit Plugin", "PortRequired": False, "settings": _AUDIT_SETTINGS},
    "MEMCACHED": {"Description": "Innodb Memcached for MySQL", "PortRequired": True, "DefaultPort": 11211,
                  "settings": _MEMCACHED_SETTINGS},
}
MAJORS = ("5.7", "8.0", "8.4")


def options_for(major: str | None = None) -> list[dict[str, Any]]:
    """OptionGroupOptions as DescribeOptionGroupOptions returns them for engine mysql."""
    out = []
    for (name, version), minimum in sorted(AVAILABLE.items()):
        if major and version != major:
            continue
        details = _DETAILS[name]
        record: dict[str, Any] = {
            "Name": name, "Description": details["Description"], "EngineName": "mysql", "MajorEngineVersion": version,
            "PortRequired": details["PortRequired"], "OptionsDependedOn": [], "OptionsConflictsWith": [],
            "Persistent": False, "Permanent": False, "RequiresAutoMinorEngineVersionUpgrade": False,
            "VpcOnly": False, "SupportsOptionVersionDowngrade": False,
            "OptionGroupOptionSettings": [{"SettingName": s, "IsModifiable": True, "IsRequired": False}
                                          for s in details["settings"]],
        }
        if minimum is not None:
            record["MinimumRequiredMinorEngineVersion"] = minimum
        if "DefaultPort" in details:
            record["DefaultPort"] = details["DefaultPort"]
        out.append(record)
    return out


def option(name: str, major: str) -> dict[str, Any] | None:
    return next((o for o in options_for(major) if o["Name"] == name), None)
