"""warpsmith.cli"""
