"""Extensions, created unbound so that every app (and every test) binds its own."""

from flask_login import LoginManager
from flask_migrate import Migrate
from flask_socketio import SocketIO
from flask_sqlalchemy import SQLAlchemy

from attendance_app.csrf import CsrfProtect
from attendance_app.models.base import Base

# expire_on_commit=False: services return results built from the objects they committed,
# so an edge never triggers a fresh SELECT per attribute after the unit of work ends.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()
login_manager = LoginManager()
csrf = CsrfProtect()
socketio = SocketIO()
