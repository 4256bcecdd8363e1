"""ServiceNow client: Table, Attachment, Email and Batch APIs over pysnow."""

from connector.servicenow.auth import OAuthTokenAuth
from connector.servicenow.client import MAX_ATTACHMENT_BYTES, ServiceNowClient, table_url
from connector.servicenow.models import BatchRequest, BatchResponse, Record

__all__ = [
    "MAX_ATTACHMENT_BYTES",
    "BatchRequest",
    "BatchResponse",
    "OAuthTokenAuth",
    "Record",
    "ServiceNowClient",
    "table_url",
]
