"""The Telegram face of the bot: `register(app)` installs the one list of handlers."""

from __future__ import annotations

from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from handlers import answer_actions, commands, library, media, messages, model_picker
from handlers.context import BotApp


def register(app: BotApp) -> None:
    """Install every handler on the application."""
    fresh = filters.UpdateType.MESSAGE  # an edited command must not run again
    app.add_handler(CommandHandler("start", commands.start, filters=fresh))
    app.add_handler(CommandHandler("help", commands.help_command, filters=fresh))
    app.add_handler(CommandHandler(["new", "reset"], commands.new_conversation, filters=fresh))
    app.add_handler(CommandHandler("model", commands.model_command, filters=fresh))
    app.add_handler(CallbackQueryHandler(model_picker.on_model_button, pattern=r"^model:"))
    app.add_handler(CommandHandler("ask", commands.ask, filters=fresh))
    app.add_handler(CommandHandler("answerall", commands.answer_all, filters=fresh))
    app.add_handler(CommandHandler("voice", commands.voice_command, filters=fresh))
    app.add_handler(CommandHandler("image", commands.image_command, filters=fresh))
    _register_library(app, fresh)
    app.add_handler(CommandHandler("stop", answer_actions.stop_command, filters=fresh))
    app.add_handler(CallbackQueryHandler(answer_actions.on_answer_button, pattern=r"^a[src]\."))
    app.add_handler(
        MessageHandler(
            filters.UpdateType.EDITED_MESSAGE & (filters.TEXT | filters.CAPTION),
            answer_actions.on_edited_message,
        )
    )
    private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
    app.add_handler(
        # Known commands matched above; an unknown /command in a private chat is text.
        MessageHandler(private & filters.TEXT, messages.on_private_text)
    )
    groups = filters.ChatType.GROUPS & filters.UpdateType.MESSAGE
    readable = (
        filters.VOICE | filters.AUDIO | filters.VIDEO_NOTE | filters.PHOTO | filters.Document.ALL
    )
    app.add_handler(MessageHandler((private | groups) & readable, media.on_media))
    app.add_handler(
        MessageHandler(groups & filters.TEXT & ~filters.COMMAND, messages.on_group_message)
    )
    app.add_handler(
        MessageHandler(
            private & ~filters.TEXT & ~filters.COMMAND & ~filters.StatusUpdate.ALL,
            messages.on_private_unsupported,
        )
    )
    # Any other press (forged, stale, from an old version) only stops the client's spinner.
    app.add_handler(CallbackQueryHandler(answer_actions.on_unknown_button))


def _register_library(app: BotApp, fresh: filters.BaseFilter) -> None:
    """/history /forget /system /persona /usage /stats and their buttons."""
    app.add_handler(CommandHandler("history", library.history_command, filters=fresh))
    app.add_handler(CommandHandler("forget", library.forget_command, filters=fresh))
    app.add_handler(CommandHandler("system", library.system_command, filters=fresh))
    app.add_handler(CommandHandler("persona", library.persona_command, filters=fresh))
    app.add_handler(CommandHandler("usage", library.usage_command, filters=fresh))
    app.add_handler(CommandHandler("stats", library.stats_command, filters=fresh))
    app.add_handler(CallbackQueryHandler(library.on_history_button, pattern=r"^h:"))
    app.add_handler(CallbackQueryHandler(library.on_forget_button, pattern=r"^f:"))
    app.add_handler(CallbackQueryHandler(library.on_persona_button, pattern=r"^p:"))
