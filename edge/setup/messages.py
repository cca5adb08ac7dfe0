"""The editor's texts, French first and English: one table per language, chosen by ``--lang``
or the browser's Accept-Language (French when it names neither).

The page reads its table as JSON; both tables have the same keys (a test checks it). The
config checker's own messages stay as ``check-config`` prints them.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

LANGS = ("fr", "en")

FR: dict[str, str] = {
    "title": "Vigie · réglage de la caméra",
    "token_refused": ("Jeton refusé : il est faux ou a déjà servi. Relancez « vigie edge setup » pour "
                      "en obtenir un nouveau."),
    "token_missing": "Accès refusé : ouvrez l'adresse avec le jeton imprimé par « vigie edge setup ».",
    "camera_down": "La caméra ne donne pas d'image",
    "try_busy": "Un essai est déjà en cours.",
    "refresh": "Rafraîchir l'image",
    "loop": "Boucle des dernières secondes",
    "loop_stop": "Arrêter la boucle",
    "tools": "Outils",
    "tool_edit": "Modifier",
    "tool_zone": "Zone",
    "tool_line": "Ligne",
    "tool_mask": "Masque",
    "tool_calibration": "Calibrage",
    "tool_direction": "Direction",
    "help_edit": ("Glissez un point pour le déplacer ; double-clic sur un bord pour ajouter un "
                  "point ; clic droit sur un point pour le supprimer."),
    "help_zone": "Cliquez pour poser les points de la zone ; double-clic ou Entrée pour la fermer.",
    "help_line": ("Cliquez le point A puis le point B ; le sens « avant » va de la gauche de A→B "
                  "vers sa droite."),
    "help_mask": ("Cliquez pour poser les points du masque ; double-clic ou Entrée pour le fermer. "
                  "Ce qui est masqué ne quitte jamais la caméra."),
    "help_calibration": "Cliquez quatre points au sol, puis donnez leur position en mètres.",
    "help_direction": ("Tracez une flèche dans le sens de circulation autorisé de la règle « sens "
                       "interdit » choisie."),
    "zones": "Zones",
    "lines": "Lignes",
    "masks": "Masques de confidentialité",
    "calibration": "Calibrage au sol",
    "rules": "Règles",
    "name": "Nom",
    "delete": "Supprimer",
    "swap": "Inverser le sens",
    "add_rule": "Ajouter une règle",
    "rule_type": "Type de règle",
    "for_zone": "sur la zone",
    "whole_frame": "(toute l'image)",
    "draw_direction": "Tracer la direction",
    "default": "défaut",
    "ground_m": "Sol (m)",
    "point": "Point",
    "check_ok": "Configuration valide",
    "check_bad": "problème(s) : corrigez avant d'enregistrer",
    "save": "Enregistrer",
    "saved": "Enregistré ; version précédente gardée dans",
    "save_refused": "Enregistrement refusé",
    "try": "Essayer",
    "try_title": "Essai avant d'enregistrer",
    "try_recent": "Dernières secondes gardées",
    "try_file": "ou un fichier vidéo de la caméra",
    "seconds": "secondes",
    "try_max": "au plus (images)",
    "try_running": "Essai en cours",
    "try_done": "Essai terminé",
    "try_failed": "Essai impossible",
    "events_none": "Aucun événement ne se serait déclenché.",
    "event_start": "début",
    "event_end": "fin",
    "frame": "image",
    "other_problems": "Autres problèmes",
    "unsaved": "Modifications non enregistrées",
    "nothing_sent": ("Rien n'est envoyé : ni MQTT, ni envoi de clips. L'éditeur s'arrête seul après "
                     "une période d'inactivité."),
    "new_zone": "zone",
    "new_line": "ligne",
    "new_mask": "masque",
}

EN: dict[str, str] = {
    "title": "Vigie · camera setup",
    "token_refused": ("Token refused: it is wrong or was already used. Run `vigie edge setup` again "
                      "for a new one."),
    "token_missing": "Access refused: open the address with the token printed by `vigie edge setup`.",
    "camera_down": "The camera gives no picture",
    "try_busy": "A trial is already running.",
    "refresh": "Refresh the picture",
    "loop": "Loop of the last seconds",
    "loop_stop": "Stop the loop",
    "tools": "Tools",
    "tool_edit": "Edit",
    "tool_zone": "Zone",
    "tool_line": "Line",
    "tool_mask": "Mask",
    "tool_calibration": "Calibration",
    "tool_direction": "Direction",
    "help_edit": ("Drag a point to move it; double-click an edge to add a point; right-click a "
                  "point to delete it."),
    "help_zone": "Click to place the zone's points; double-click or Enter closes it.",
    "help_line": "Click point A then point B; 'forward' goes from the left of A→B to its right.",
    "help_mask": ("Click to place the mask's points; double-click or Enter closes it. What is "
                  "masked never leaves the camera."),
    "help_calibration": "Click four points on the ground, then give their positions in metres.",
    "help_direction": "Draw an arrow along the allowed direction of travel of the chosen wrong-way rule.",
    "zones": "Zones",
    "lines": "Lines",
    "masks": "Privacy masks",
    "calibration": "Ground calibration",
    "rules": "Rules",
    "name": "Name",
    "delete": "Delete",
    "swap": "Reverse the direction",
    "add_rule": "Add a rule",
    "rule_type": "Rule type",
    "for_zone": "on zone",
    "whole_frame": "(whole frame)",
    "draw_direction": "Draw the direction",
    "default": "default",
    "ground_m": "Ground (m)",
    "point": "Point",
    "check_ok": "Configuration valid",
    "check_bad": "problem(s): fix them before saving",
    "save": "Save",
    "saved": "Saved; previous version kept in",
    "save_refused": "Save refused",
    "try": "Try it",
    "try_title": "Trial before saving",
    "try_recent": "Last seconds kept",
    "try_file": "or a video file of the camera",
    "seconds": "seconds",
    "try_max": "at most (frames)",
    "try_running": "Trial running",
    "try_done": "Trial finished",
    "try_failed": "Trial impossible",
    "events_none": "No event would have fired.",
    "event_start": "start",
    "event_end": "end",
    "frame": "frame",
    "other_problems": "Other problems",
    "unsaved": "Unsaved changes",
    "nothing_sent": ("Nothing is sent: no MQTT, no clip upload. The editor stops by itself after a "
                     "period of inactivity."),
    "new_zone": "zone",
    "new_line": "line",
    "new_mask": "mask",
}

TABLES = {"fr": FR, "en": EN}


def table(lang: str) -> dict[str, str]:
    return TABLES.get(lang, FR)


def pick(accept_language: str) -> str:
    """The first of ``fr``/``en`` named by an Accept-Language header (by weight), else ``fr``."""
    best, best_q = "fr", -1.0
    for part in accept_language.split(",")[:20]:
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                continue
        code = tag.strip().lower()[:2]
        if code in TABLES and q > best_q:
            best, best_q = code, q
    return best
