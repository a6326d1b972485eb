"""Ranking: deep candidates from every retriever, features that compare the question's frame with
each candidate's, and a learned LambdaMART ranker over them."""
