"""Federated forensic search: the hub asks the boxes, signs requests and stores the answers."""
