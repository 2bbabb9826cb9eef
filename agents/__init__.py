"""warpsmith.agents"""
