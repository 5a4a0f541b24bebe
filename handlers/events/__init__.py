"""Events in the chat: /newevent (create), RSVP, /events and one event (listing),
coordinators' answers, attendance, changes and cancellation (manage).

Each module registers its handlers on `states.router` when imported; the first matching
handler wins, so the order below is the order of registration: keep it.
"""

# isort: off
from handlers.events.states import EditEvent, NewEvent, router
from handlers.events import create, listing, manage, dialogs

# isort: on

__all__ = ["EditEvent", "NewEvent", "create", "dialogs", "listing", "manage", "router"]
