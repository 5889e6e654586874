"""Output formats shared by every command: GitHub workflow annotations, report shapes."""
