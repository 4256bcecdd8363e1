"""ServiceNow client: Table, Attachment, Email and Batch APIs over pysnow."""

from connector.servicenow.auth import OAuthTokenAuth
from connector.servicenow.client import MAX_ATTACHMENT_BYTES, ServiceNowClient
from connector.servicenow.models import BatchRequest, BatchResponse, Record
from connector.servicenow.urls import table_url

__all__ = [
    "MAX_ATTACHMENT_BYTES",
    "BatchRequest",
    "BatchResponse",
    "OAuthTokenAuth",
    "Record",
    "ServiceNowClient",
    "table_url",
]
