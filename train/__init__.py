"""siamkit.train"""
