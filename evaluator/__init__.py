"""warpsmith.evaluator"""
