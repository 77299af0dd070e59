"""siamkit.scoring"""
