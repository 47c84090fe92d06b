"""Extension objects, created once and bound to the app in create_app()."""

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

import ledger

db = SQLAlchemy(model_class=ledger.Base)
migrate = Migrate()
