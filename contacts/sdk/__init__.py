"""The website and app SDK: boot, updateUser, track and tags under /sdk/v1."""
