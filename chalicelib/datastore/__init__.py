"""Artifact and metadata storage: a byte Storage (folder or S3) and the flow layout over it."""

from .flow import FlowDatastore
from .folder import FolderStorage
from .s3 import S3Storage
from .storage import MissingKey, Storage, open_storage

__all__ = ["FlowDatastore", "FolderStorage", "MissingKey", "S3Storage", "Storage", "open_storage"]
