"""warpsmith.dashboard"""
