"""Credit risk: will an applicant repay? A guide project on the German Credit data (see README.md)."""
