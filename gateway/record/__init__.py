"""The record: one repository bound to the caller, the only way to reach storage."""
