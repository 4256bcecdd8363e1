"""Build the ServiceNow update set (unload XML) that installs the connector's ServiceNow side.

The file has the shape an instance writes for System Update Sets > Retrieved Update Sets >
Import Update Set from XML::

    <unload unload_date="…">
      <sys_remote_update_set action="INSERT_OR_UPDATE"> … </sys_remote_update_set>
      <sys_update_xml action="INSERT_OR_UPDATE">
        <name>sys_dictionary_u_bomgar_session_u_lsid</name> <table>u_bomgar_session</table> …
        <payload>&lt;?xml …?&gt;&lt;record_update&gt;&lt;sys_dictionary …</payload>
      </sys_update_xml>
      …
    </unload>

Each payload is one record (or one composite record) in the form real exports use:

- ``sys_db_object_<table>``: ``<record_update table="sys_db_object"><sys_db_object …>``
- ``sys_dictionary_<table>_<element>`` (``_null`` for the table's collection entry):
  ``<record_update><sys_dictionary action="INSERT_OR_UPDATE" element="…" table="…">``
- ``sys_documentation_<table>_<element>_en``: the label, wrapped in an outer
  ``<sys_documentation element label language table>``
- ``sys_choice_<table>_<field>``: ``<sys_choice … version="3">`` holding the ``sys_choice_set``
  and every ``sys_choice`` row of the field
- everything else: ``<record_update table="T"><T action="INSERT_OR_UPDATE">``, named ``T_<sys_id>``
  (roles by name)

Every record carries ``sys_scope``/``sys_package`` (global), ``sys_class_name`` and
``sys_update_name``. Tables, columns, choices, roles, ACLs and reports are data (TABLES, ROLES,
REPORTS): a new table is one more ``Table`` entry. Sys_ids are derived from stable names, so a
re-export updates the same records on the instance instead of adding copies.
"""

from connector.servicenow.updateset.assembly import build_update_set, java_hash, payload_text
from connector.servicenow.updateset.contents import (
    BASE_ROLES,
    PROPERTIES,
    RELATED_LIST_PARENTS,
    REPORTS,
    ROLE_INTEGRATION,
    ROLE_READER,
    ROLE_TPA_MANAGER,
    ROLE_TPA_USER,
    ROLES,
    TABLE_ACCESS,
    TABLES,
    UPDATE_SET_NAME,
    Column,
    Report,
    Role,
    Table,
    stable_id,
)
from connector.servicenow.updateset.records import role_ref

__all__ = [
    "BASE_ROLES",
    "PROPERTIES",
    "RELATED_LIST_PARENTS",
    "REPORTS",
    "ROLES",
    "ROLE_INTEGRATION",
    "ROLE_READER",
    "ROLE_TPA_MANAGER",
    "ROLE_TPA_USER",
    "TABLES",
    "TABLE_ACCESS",
    "UPDATE_SET_NAME",
    "Column",
    "Report",
    "Role",
    "Table",
    "build_update_set",
    "java_hash",
    "payload_text",
    "role_ref",
    "stable_id",
]
