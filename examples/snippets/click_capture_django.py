# wsgi.py of a Django project
from django.core.wsgi import get_wsgi_application

from partner_sdk import ClickCapture, click_token_from_environ

application = ClickCapture(get_wsgi_application(), cookie_name="lp_click")


# in the checkout view
def click_token_of(request):
    return click_token_from_environ(request.META)  # request.META is the WSGI environ
