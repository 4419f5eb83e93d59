"""The sync engine: RQ jobs that take every email of every connected mailbox through the
decision of SPEC section 2 and record it in Salesforce under the allowances of section 3.

No Flask here. Jobs receive ids, never objects; every stage re-reads the database and is
safe to run twice.
"""
