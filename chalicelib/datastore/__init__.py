"""Artifact and metadata storage: a byte Storage (folder or S3) and the flow layout over it."""

from flowdrop.datastore.backends import open_storage
from flowdrop.datastore.flow import FlowDatastore
from flowdrop.datastore.folder import FolderStorage
from flowdrop.datastore.s3 import S3Storage
from flowdrop.datastore.storage import Storage
from flowdrop.errors import MissingKey

__all__ = ["FlowDatastore", "FolderStorage", "MissingKey", "S3Storage", "Storage", "open_storage"]
