"""Headless training and evaluation (``cnnexplorer train`` / ``cnnexplorer eval``).

``cnnexplorer.train.cli`` is import-light; every other module here imports torch.
"""
