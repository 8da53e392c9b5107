"""Deployment: the CloudFormation resources the Chalice functions need, built from the project's own definitions."""
