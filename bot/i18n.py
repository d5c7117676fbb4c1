"""User-facing strings in English, Vietnamese and Chinese."""

from __future__ import annotations

LANGUAGES = ("en", "vi", "zh")

_STRINGS: dict[str, dict[str, str]] = {
    "start": {
        "en": (
            "Hi {name}! I am an AI assistant powered by {model}.\n\n"
            "Just write to me: I answer every message here and remember our conversation. "
            "In groups, use /ask, mention me or reply to my messages.\n\n"
            "/new starts a fresh conversation, /help lists the commands."
        ),
        "vi": (
            "Xin chào {name}! Tôi là trợ lý AI chạy bằng {model}.\n\n"
            "Cứ nhắn cho tôi: tôi trả lời mọi tin nhắn ở đây và nhớ cuộc trò chuyện. "
            "Trong nhóm, hãy dùng /ask, nhắc tên tôi hoặc trả lời tin nhắn của tôi.\n\n"
            "/new bắt đầu cuộc trò chuyện mới, /help liệt kê các lệnh."
        ),
        "zh": (
            "你好，{name}！我是由 {model} 驱动的 AI 助手。\n\n"
            "直接给我发消息即可：我会回复这里的每条消息并记住我们的对话。"
            "在群组中，请使用 /ask、提及我或回复我的消息。\n\n"
            "/new 开始新对话，/help 列出所有命令。"
        ),
    },
    "help": {
        "en": (
            "Commands:\n"
            "/ask <question> – ask me (in groups)\n"
            "/new – start a fresh conversation (alias /reset)\n"
            "/stop – stop the answer being written\n"
            "/model – show or change the model\n"
            "/answerall on|off – in a group, answer every message (admins)\n"
            "/voice – spoken copies of answers on/off\n"
            "/image <description> – draw a picture\n"
            "/history – saved conversations; go back to one\n"
            "/forget – delete everything stored for this chat\n"
            "/system [text|reset] – this chat's instructions\n"
            "/persona – choose a persona\n"
            "/usage – your usage today and this month\n"
            "/help – this list\n\n"
            "I remember this chat's conversation until you start a new one."
        ),
        "vi": (
            "Các lệnh:\n"
            "/ask <câu hỏi> – hỏi tôi (trong nhóm)\n"
            "/new – bắt đầu cuộc trò chuyện mới (hoặc /reset)\n"
            "/stop – dừng câu trả lời đang viết\n"
            "/model – xem hoặc đổi mô hình\n"
            "/answerall on|off – trong nhóm, trả lời mọi tin nhắn (quản trị viên)\n"
            "/voice – bật/tắt bản đọc câu trả lời\n"
            "/image <mô tả> – vẽ một bức ảnh\n"
            "/history – các cuộc trò chuyện đã lưu; quay lại một cuộc\n"
            "/forget – xóa mọi thứ đã lưu của chat này\n"
            "/system [nội dung|reset] – chỉ dẫn cho chat này\n"
            "/persona – chọn vai trò\n"
            "/usage – mức sử dụng hôm nay và tháng này\n"
            "/help – danh sách này\n\n"
            "Tôi nhớ cuộc trò chuyện của chat này cho đến khi bạn bắt đầu cuộc mới."
        ),
        "zh": (
            "命令：\n"
            "/ask <问题> – 向我提问（群组中）\n"
            "/new – 开始新对话（别名 /reset）\n"
            "/stop – 停止正在生成的回答\n"
            "/model – 查看或切换模型\n"
            "/answerall on|off – 在群组中回复每条消息（管理员）\n"
            "/voice – 开关语音回复\n"
            "/image <描述> – 生成图片\n"
            "/history – 已保存的对话；可回到其中之一\n"
            "/forget – 删除本聊天存储的所有内容\n"
            "/system [内容|reset] – 本聊天的指令\n"
            "/persona – 选择角色\n"
            "/usage – 今天和本月的用量\n"
            "/help – 本列表\n\n"
            "在你开始新对话之前，我会记住本聊天的对话。"
        ),
    },
    "cmd_start": {"en": "Start and about", "vi": "Bắt đầu và giới thiệu", "zh": "开始与介绍"},
    "cmd_help": {"en": "List commands", "vi": "Danh sách lệnh", "zh": "命令列表"},
    "cmd_new": {
        "en": "Start a fresh conversation",
        "vi": "Cuộc trò chuyện mới",
        "zh": "开始新对话",
    },
    "cmd_reset": {"en": "Same as /new", "vi": "Giống /new", "zh": "同 /new"},
    "cmd_ask": {"en": "Ask a question", "vi": "Đặt câu hỏi", "zh": "提问"},
    "cmd_answerall": {
        "en": "Group: answer every message (on/off)",
        "vi": "Nhóm: trả lời mọi tin nhắn (on/off)",
        "zh": "群组：回复每条消息（on/off）",
    },
    "answer_all_on": {
        "en": "I will answer every message in this group now. /answerall off to stop.",
        "vi": "Từ giờ tôi sẽ trả lời mọi tin nhắn trong nhóm này. /answerall off để dừng.",
        "zh": "从现在起我会回复本群的每条消息。使用 /answerall off 停止。",
    },
    "answer_all_off": {
        "en": "I will answer only /ask, mentions of me and replies to my messages here.",
        "vi": "Tôi sẽ chỉ trả lời /ask, khi được nhắc tên hoặc khi có người trả lời tin nhắn của tôi.",
        "zh": "我将只回复 /ask、提及我的消息以及对我消息的回复。",
    },
    "answer_all_private": {
        "en": "In private chats I always answer every message.",
        "vi": "Trong chat riêng tôi luôn trả lời mọi tin nhắn.",
        "zh": "在私聊中我总是回复每条消息。",
    },
    "cmd_model": {
        "en": "Show or change the model",
        "vi": "Xem hoặc đổi mô hình",
        "zh": "查看或切换模型",
    },
    "new_conversation": {
        "en": "Started a fresh conversation. The previous one is kept but no longer used.",
        "vi": "Đã bắt đầu cuộc trò chuyện mới. Cuộc cũ vẫn được lưu nhưng không dùng nữa.",
        "zh": "已开始新对话。之前的对话已保存，但不再使用。",
    },
    "model_current": {
        "en": "Current model: {model}",
        "vi": "Mô hình hiện tại: {model}",
        "zh": "当前模型：{model}",
    },
    "model_choices": {
        "en": "Available: {models}\nChange with /model <name>.",
        "vi": "Có thể dùng: {models}\nĐổi bằng /model <tên>.",
        "zh": "可用：{models}\n使用 /model <名称> 切换。",
    },
    "model_set": {
        "en": "Model for this chat: {model}",
        "vi": "Mô hình cho chat này: {model}",
        "zh": "本聊天的模型：{model}",
    },
    "model_unknown": {
        "en": "Unknown model '{model}'. Available: {models}",
        "vi": "Không có mô hình '{model}'. Có thể dùng: {models}",
        "zh": "未知模型“{model}”。可用：{models}",
    },
    "model_fixed": {
        "en": "This bot uses {model}; the admin has not listed other models (AVAILABLE_MODELS).",
        "vi": "Bot dùng {model}; quản trị viên chưa khai báo mô hình khác (AVAILABLE_MODELS).",
        "zh": "本机器人使用 {model}；管理员未配置其他模型（AVAILABLE_MODELS）。",
    },
    "not_allowed_user": {
        "en": (
            "Sorry, this bot is private. Your Telegram user id is {user_id}.\n"
            "The bot's owner can let you in by adding it to ALLOWED_USER_IDS."
        ),
        "vi": (
            "Xin lỗi, bot này là riêng tư. ID Telegram của bạn là {user_id}.\n"
            "Chủ bot có thể cho bạn dùng bằng cách thêm ID này vào ALLOWED_USER_IDS."
        ),
        "zh": (
            "抱歉，此机器人为私有。你的 Telegram 用户 ID 是 {user_id}。\n"
            "机器人所有者可以将其加入 ALLOWED_USER_IDS 来允许你使用。"
        ),
    },
    "not_allowed_chat": {
        "en": (
            "This bot is not enabled in this group. Group id: {chat_id}.\n"
            "The bot's owner can enable it by adding the id to ALLOWED_CHAT_IDS."
        ),
        "vi": (
            "Bot chưa được bật trong nhóm này. ID nhóm: {chat_id}.\n"
            "Chủ bot có thể bật bằng cách thêm ID này vào ALLOWED_CHAT_IDS."
        ),
        "zh": (
            "此群组未启用本机器人。群组 ID：{chat_id}。\n"
            "机器人所有者可将该 ID 加入 ALLOWED_CHAT_IDS 以启用。"
        ),
    },
    "admins_only": {
        "en": "Only group admins can do that here.",
        "vi": "Chỉ quản trị viên nhóm mới làm được việc này.",
        "zh": "只有群组管理员可以执行此操作。",
    },
    "ask_empty": {
        "en": "Write your question after /ask, for example: /ask what is a black hole?",
        "vi": "Hãy viết câu hỏi sau /ask, ví dụ: /ask lỗ đen là gì?",
        "zh": "请在 /ask 后写下问题，例如：/ask 什么是黑洞？",
    },
    "interrupted": {
        "en": "⚠️ The answer was interrupted: {reason}",
        "vi": "⚠️ Câu trả lời bị gián đoạn: {reason}",
        "zh": "⚠️ 回答被中断：{reason}",
    },
    "reason_stalled": {
        "en": "the model stopped sending.",
        "vi": "mô hình ngừng gửi dữ liệu.",
        "zh": "模型停止了输出。",
    },
    "reason_dropped": {
        "en": "the connection to the model broke.",
        "vi": "kết nối tới mô hình bị đứt.",
        "zh": "与模型的连接中断。",
    },
    "reason_length": {
        "en": "the model reached its output limit.",
        "vi": "mô hình đã chạm giới hạn độ dài đầu ra.",
        "zh": "模型已达到输出长度上限。",
    },
    "reason_filtered": {
        "en": "the provider's content filter stopped it.",
        "vi": "bộ lọc nội dung của nhà cung cấp đã chặn.",
        "zh": "被服务商的内容过滤器拦截。",
    },
    "stopped": {
        "en": "⏹ Stopped.",
        "vi": "⏹ Đã dừng.",
        "zh": "⏹ 已停止。",
    },
    "resumed_after_restart": {
        "en": "↻ A restart interrupted this answer; here it is again.",
        "vi": "↻ Câu trả lời bị gián đoạn do khởi động lại; đây là câu trả lời mới.",
        "zh": "↻ 重启打断了这个回答，以下是重新生成的回答。",
    },
    "too_fast": {
        "en": "You are sending messages too fast. Please wait a minute; I answer what came before.",
        "vi": "Bạn gửi tin nhắn quá nhanh. Vui lòng đợi một phút; tôi sẽ trả lời các tin trước đó.",
        "zh": "你发送消息太快了。请稍等一分钟，我会先回答之前的消息。",
    },
    "btn_stop": {"en": "⏹ Stop", "vi": "⏹ Dừng", "zh": "⏹ 停止"},
    "btn_regenerate": {"en": "🔄 Regenerate", "vi": "🔄 Trả lời lại", "zh": "🔄 重新生成"},
    "btn_continue": {"en": "➡️ Continue", "vi": "➡️ Viết tiếp", "zh": "➡️ 继续"},
    "continue_prompt": {
        "en": "Continue exactly where your previous answer stopped.",
        "vi": "Continue exactly where your previous answer stopped.",
        "zh": "Continue exactly where your previous answer stopped.",
    },
    "toast_not_yours": {
        "en": "Only the person who asked (or a group admin) can do this.",
        "vi": "Chỉ người đã hỏi (hoặc quản trị viên nhóm) mới làm được việc này.",
        "zh": "只有提问者（或群管理员）可以这样做。",
    },
    "toast_not_latest": {
        "en": "Only the latest answer can be regenerated or continued.",
        "vi": "Chỉ có thể trả lời lại hoặc viết tiếp câu trả lời mới nhất.",
        "zh": "只能重新生成或继续最新的回答。",
    },
    "toast_finished": {
        "en": "This answer has already finished.",
        "vi": "Câu trả lời này đã kết thúc.",
        "zh": "这个回答已经结束了。",
    },
    "toast_stopping": {"en": "Stopping…", "vi": "Đang dừng…", "zh": "正在停止…"},
    "toast_busy": {
        "en": "Please wait for the current answer to finish.",
        "vi": "Vui lòng đợi câu trả lời hiện tại kết thúc.",
        "zh": "请等待当前回答结束。",
    },
    "stop_nothing": {
        "en": "Nothing is being answered right now.",
        "vi": "Hiện không có câu trả lời nào đang chạy.",
        "zh": "当前没有正在生成的回答。",
    },
    "cmd_stop": {
        "en": "Stop the answer being written",
        "vi": "Dừng câu trả lời đang viết",
        "zh": "停止正在生成的回答",
    },
    "empty_answer": {
        "en": "The model returned an empty answer. Please try again.",
        "vi": "Mô hình trả về câu trả lời trống. Vui lòng thử lại.",
        "zh": "模型返回了空回答，请重试。",
    },
    "error_unexpected": {
        "en": "Something went wrong on my side. Please try again.",
        "vi": "Đã có lỗi phía tôi. Vui lòng thử lại.",
        "zh": "我这边出了点问题，请重试。",
    },
    "error_provider": {
        "en": "The model provider could not answer. Please try again later.",
        "vi": "Nhà cung cấp mô hình không trả lời được. Vui lòng thử lại sau.",
        "zh": "模型服务商无法回答，请稍后重试。",
    },
    "error_auth": {
        "en": "The model provider rejected the bot's API key. The bot's owner must fix OPENAI_API_KEY.",
        "vi": "Nhà cung cấp mô hình từ chối API key của bot. Chủ bot cần sửa OPENAI_API_KEY.",
        "zh": "模型服务商拒绝了机器人的 API 密钥。请机器人所有者修正 OPENAI_API_KEY。",
    },
    "error_permission": {
        "en": "The model provider denied access (model permissions or region).",
        "vi": "Nhà cung cấp mô hình từ chối truy cập (quyền dùng mô hình hoặc khu vực).",
        "zh": "模型服务商拒绝访问（模型权限或地区限制）。",
    },
    "error_model_not_found": {
        "en": "The model '{model}' does not exist at this provider. Check OPENAI_MODEL or /model.",
        "vi": "Mô hình '{model}' không có ở nhà cung cấp này. Kiểm tra OPENAI_MODEL hoặc /model.",
        "zh": "该服务商不存在模型“{model}”。请检查 OPENAI_MODEL 或 /model。",
    },
    "error_rate_limited": {
        "en": "The model provider is busy (rate limit). Please try again in a minute.",
        "vi": "Nhà cung cấp mô hình đang quá tải (giới hạn tốc độ). Vui lòng thử lại sau một phút.",
        "zh": "模型服务商繁忙（速率限制），请一分钟后重试。",
    },
    "error_quota": {
        "en": "The bot's account at the model provider is out of credit. The bot's owner must top it up.",
        "vi": "Tài khoản của bot ở nhà cung cấp mô hình đã hết hạn mức. Chủ bot cần nạp thêm.",
        "zh": "机器人在模型服务商的账户额度已用完，请所有者充值。",
    },
    "error_context": {
        "en": "This conversation is too long for the model. Start a fresh one with /new.",
        "vi": "Cuộc trò chuyện quá dài với mô hình. Hãy bắt đầu cuộc mới bằng /new.",
        "zh": "对话对模型来说太长了。请用 /new 开始新对话。",
    },
    "error_bad_request": {
        "en": "The model provider rejected the request.",
        "vi": "Nhà cung cấp mô hình từ chối yêu cầu.",
        "zh": "模型服务商拒绝了该请求。",
    },
    "error_server": {
        "en": "The model provider has a server error right now. Please try again later.",
        "vi": "Máy chủ của nhà cung cấp mô hình đang lỗi. Vui lòng thử lại sau.",
        "zh": "模型服务商的服务器出错，请稍后重试。",
    },
    "error_timeout": {
        "en": "The model took too long to answer. Please try again.",
        "vi": "Mô hình trả lời quá lâu. Vui lòng thử lại.",
        "zh": "模型响应超时，请重试。",
    },
    "error_connection": {
        "en": "I could not reach the model provider. Please try again later.",
        "vi": "Không kết nối được tới nhà cung cấp mô hình. Vui lòng thử lại sau.",
        "zh": "无法连接到模型服务商，请稍后重试。",
    },
    "error_interrupted": {
        "en": "The answer was interrupted. Please try again.",
        "vi": "Câu trả lời bị gián đoạn. Vui lòng thử lại.",
        "zh": "回答被中断，请重试。",
    },
    "error_input": {
        "en": "I can't handle this message.",
        "vi": "Tôi không xử lý được tin nhắn này.",
        "zh": "我无法处理这条消息。",
    },
    "error_too_long_input": {
        "en": "Your message is too long ({size} characters, at most {limit}). Please shorten it.",
        "vi": "Tin nhắn quá dài ({size} ký tự, tối đa {limit}). Vui lòng rút gọn.",
        "zh": "消息太长（{size} 个字符，最多 {limit}）。请缩短。",
    },
    "error_unsupported": {
        "en": "I can't read this kind of message yet. Send text, please.",
        "vi": "Tôi chưa đọc được loại tin nhắn này. Vui lòng gửi văn bản.",
        "zh": "我暂时无法读取这类消息，请发送文字。",
    },
    "error_file_too_big": {
        "en": "This file is too big for me ({size} MB; Telegram lets bots download at most {limit} MB).",
        "vi": "Tệp quá lớn ({size} MB; Telegram chỉ cho bot tải tối đa {limit} MB).",
        "zh": "文件太大（{size} MB；Telegram 只允许机器人下载最多 {limit} MB）。",
    },
    "error_download_failed": {
        "en": "I couldn't download this file from Telegram. Please send it again.",
        "vi": "Tôi không tải được tệp này từ Telegram. Vui lòng gửi lại.",
        "zh": "无法从 Telegram 下载此文件，请重新发送。",
    },
    "error_message_too_long": {
        "en": "Your message is too long for the model {model}. Please shorten it or split it; I left it out of our conversation.",
        "vi": "Tin nhắn quá dài đối với mô hình {model}. Vui lòng rút gọn hoặc chia nhỏ; tôi đã bỏ nó ra khỏi cuộc trò chuyện.",
        "zh": "这条消息对模型 {model} 来说太长了。请缩短或分成几条；我已将它移出对话。",
    },
    "error_corrupt_answer": {
        "en": "The model provider sent a broken answer. Please try again.",
        "vi": "Nhà cung cấp mô hình gửi về một câu trả lời hỏng. Vui lòng thử lại.",
        "zh": "模型服务商返回了损坏的回答，请重试。",
    },
    "error_bad_response": {
        "en": "The provider's answer was not understood. The bot's owner should check OPENAI_BASE_URL.",
        "vi": "Không hiểu được phản hồi của nhà cung cấp. Chủ bot nên kiểm tra OPENAI_BASE_URL.",
        "zh": "无法理解服务商的响应。请机器人所有者检查 OPENAI_BASE_URL。",
    },
    "error_audio_too_big": {
        "en": "This recording is too big to transcribe (at most {limit} MB).",
        "vi": "Bản ghi âm quá lớn để chuyển thành văn bản (tối đa {limit} MB).",
        "zh": "录音太大，无法转写（最多 {limit} MB）。",
    },
    "error_audio_empty": {
        "en": "This recording is empty.",
        "vi": "Bản ghi âm này trống.",
        "zh": "这段录音是空的。",
    },
    "error_audio_broken": {
        "en": "I couldn't read this recording: the file seems broken or in an unusual format.",
        "vi": "Tôi không đọc được bản ghi âm này: tệp có vẻ bị hỏng hoặc định dạng lạ.",
        "zh": "无法读取这段录音：文件可能已损坏或格式不常见。",
    },
    "error_audio_format": {
        "en": "I can't transcribe this audio format. Supported: {formats}.",
        "vi": "Tôi không chuyển được định dạng âm thanh này. Hỗ trợ: {formats}.",
        "zh": "无法转写这种音频格式。支持：{formats}。",
    },
    "error_no_transcription": {
        "en": "Voice messages are not available: the provider has no transcription. Please type instead.",
        "vi": "Chưa dùng được tin nhắn thoại: nhà cung cấp không hỗ trợ chuyển giọng nói. Vui lòng gõ chữ.",
        "zh": "语音消息不可用：服务商不支持语音转写。请改为输入文字。",
    },
    "error_transcription_failed": {
        "en": "Transcription failed. Please try again or type your message.",
        "vi": "Chuyển giọng nói thất bại. Vui lòng thử lại hoặc gõ chữ.",
        "zh": "语音转写失败。请重试或改为输入文字。",
    },
    "error_empty_transcript": {
        "en": "I couldn't hear any words in this recording.",
        "vi": "Tôi không nghe thấy lời nào trong bản ghi âm này.",
        "zh": "这段录音里没有听到任何话语。",
    },
    "error_image_broken": {
        "en": "I couldn't open this image.",
        "vi": "Tôi không mở được ảnh này.",
        "zh": "无法打开这张图片。",
    },
    "error_vision_unsupported": {
        "en": "The model {model} can't see images. Send text, or pick a vision model with /model.",
        "vi": "Mô hình {model} không xem được ảnh. Hãy gửi văn bản, hoặc chọn mô hình có thị giác bằng /model.",
        "zh": "模型 {model} 无法识别图片。请发送文字，或用 /model 选择支持视觉的模型。",
    },
    "error_document_type": {
        "en": "I can't read this kind of file. I read: {types}.",
        "vi": "Tôi không đọc được loại tệp này. Tôi đọc được: {types}.",
        "zh": "无法读取这种文件。支持：{types}。",
    },
    "error_document_empty": {
        "en": "I found no text in this file.",
        "vi": "Tôi không tìm thấy chữ nào trong tệp này.",
        "zh": "这个文件里没有找到文字。",
    },
    "error_document_broken": {
        "en": "I couldn't open this file: it seems broken.",
        "vi": "Tôi không mở được tệp này: có vẻ tệp bị hỏng.",
        "zh": "无法打开这个文件：文件似乎已损坏。",
    },
    "document_truncated": {
        "en": "Note: the file is long; I read its first {limit} characters.",
        "vi": "Lưu ý: tệp dài; tôi đã đọc {limit} ký tự đầu.",
        "zh": "注意：文件较长，我读取了前 {limit} 个字符。",
    },
    "error_image_too_large": {
        "en": "This picture is too large ({width}×{height} pixels). I accept up to {limit} megapixels.",
        "vi": "Ảnh này quá lớn ({width}×{height} điểm ảnh). Tôi nhận tối đa {limit} megapixel.",
        "zh": "这张图片太大（{width}×{height} 像素）。我最多接受 {limit} 百万像素。",
    },
    "error_file_too_complex": {
        "en": "This file is too big or too complex for me to read within my limits.",
        "vi": "Tệp này quá lớn hoặc quá phức tạp để tôi đọc trong giới hạn cho phép.",
        "zh": "这个文件太大或太复杂，超出了我的读取限制。",
    },
    "document_pages_truncated": {
        "en": "Note: the file is long; I read its first {pages} of {total} pages.",
        "vi": "Lưu ý: tệp dài; tôi đã đọc {pages} trên {total} trang đầu.",
        "zh": "注意：文件较长，我读取了 {total} 页中的前 {pages} 页。",
    },
    "error_voice_too_long": {
        "en": "This recording is too long ({seconds} s). I transcribe recordings up to {limit} s.",
        "vi": "Bản ghi âm này quá dài ({seconds} giây). Tôi chỉ chuyển bản ghi tối đa {limit} giây.",
        "zh": "这段录音太长（{seconds} 秒）。我最多转写 {limit} 秒的录音。",
    },
    "transcript_truncated": {
        "en": "Note: the transcript is long; I kept its first {limit} characters.",
        "vi": "Lưu ý: bản chép lời dài; tôi giữ {limit} ký tự đầu.",
        "zh": "注意：转写文本较长，我保留了前 {limit} 个字符。",
    },
    "photo_question": {
        "en": "What is in this picture?",
        "vi": "Trong ảnh này có gì?",
        "zh": "这张图片里有什么？",
    },
    "document_question": {
        "en": "Please read this file and summarise it.",
        "vi": "Hãy đọc tệp này và tóm tắt.",
        "zh": "请阅读这个文件并总结。",
    },
    "voice_on": {
        "en": "I'll send a voice copy of each answer in this chat. /voice again to stop.",
        "vi": "Tôi sẽ gửi kèm bản đọc của mỗi câu trả lời trong chat này. Gõ /voice lần nữa để tắt.",
        "zh": "我会在本聊天中为每个回答附上语音。再次发送 /voice 停止。",
    },
    "voice_off": {
        "en": "Voice copies are off.",
        "vi": "Đã tắt bản đọc.",
        "zh": "已关闭语音回复。",
    },
    "error_tts_failed": {
        "en": "I couldn't make a voice copy of this answer.",
        "vi": "Tôi không tạo được bản đọc cho câu trả lời này.",
        "zh": "无法为这个回答生成语音。",
    },
    "image_usage": {
        "en": "Describe the picture after /image, for example: /image a red fox in the snow",
        "vi": "Hãy mô tả bức ảnh sau /image, ví dụ: /image con cáo đỏ trong tuyết",
        "zh": "请在 /image 后描述图片，例如：/image 雪中的红狐狸",
    },
    "error_image_unsupported": {
        "en": "The provider can't generate images.",
        "vi": "Nhà cung cấp không tạo được ảnh.",
        "zh": "服务商不支持生成图片。",
    },
    "error_image_rejected": {
        "en": "The provider refused to draw this. Try another description.",
        "vi": "Nhà cung cấp từ chối vẽ nội dung này. Hãy thử mô tả khác.",
        "zh": "服务商拒绝生成该图片。请换一种描述。",
    },
    "error_image_failed": {
        "en": "Image generation failed. Please try again.",
        "vi": "Tạo ảnh thất bại. Vui lòng thử lại.",
        "zh": "图片生成失败，请重试。",
    },
    "cmd_voice": {
        "en": "Spoken copies of answers on/off",
        "vi": "Bật/tắt bản đọc câu trả lời",
        "zh": "开关语音回复",
    },
    "cmd_image": {"en": "Draw a picture", "vi": "Vẽ một bức ảnh", "zh": "生成图片"},
    "thinking": {
        "en": "🤔 Thinking… ({seconds} s)",
        "vi": "🤔 Đang suy nghĩ… ({seconds} giây)",
        "zh": "🤔 思考中…（{seconds} 秒）",
    },
    "waiting_retry": {
        "en": "⏳ The model provider is busy; trying again in {seconds} s…",
        "vi": "⏳ Nhà cung cấp mô hình đang bận; thử lại sau {seconds} giây…",
        "zh": "⏳ 模型服务商繁忙；{seconds} 秒后重试…",
    },
    "answered_by": {
        "en": "Answered by {model} ({chosen} was unavailable).",
        "vi": "Trả lời bởi {model} ({chosen} không khả dụng).",
        "zh": "由 {model} 回答（{chosen} 暂不可用）。",
    },
    "tool_weather": {
        "en": "🌤 Looking up the weather in {place}…",
        "vi": "🌤 Đang xem thời tiết ở {place}…",
        "zh": "🌤 正在查询{place}的天气…",
    },
    "tool_search": {
        "en": "🔎 Searching: {query}…",
        "vi": "🔎 Đang tìm: {query}…",
        "zh": "🔎 正在搜索：{query}…",
    },
    "tool_generic": {
        "en": "⚙️ Running {name}…",
        "vi": "⚙️ Đang chạy {name}…",
        "zh": "⚙️ 正在运行 {name}…",
    },
    # Saved conversations, forgetting, instructions, personas, usage, quotas (issue 11)
    "cmd_history": {
        "en": "Saved conversations",
        "vi": "Các cuộc trò chuyện đã lưu",
        "zh": "已保存的对话",
    },
    "cmd_forget": {
        "en": "Delete everything stored for this chat",
        "vi": "Xóa mọi thứ đã lưu của chat này",
        "zh": "删除本聊天存储的所有内容",
    },
    "cmd_system": {
        "en": "Show or set this chat's instructions",
        "vi": "Xem hoặc đặt chỉ dẫn cho chat này",
        "zh": "查看或设置本聊天的指令",
    },
    "cmd_persona": {"en": "Choose a persona", "vi": "Chọn một vai trò", "zh": "选择角色"},
    "cmd_usage": {
        "en": "Your usage today and this month",
        "vi": "Mức sử dụng hôm nay và tháng này",
        "zh": "今天和本月的用量",
    },
    "cmd_stats": {
        "en": "Bot statistics (bot admins)",
        "vi": "Thống kê bot (quản trị bot)",
        "zh": "机器人统计（机器人管理员）",
    },
    "history_empty": {
        "en": "No saved conversations in this chat yet.",
        "vi": "Chat này chưa có cuộc trò chuyện nào được lưu.",
        "zh": "本聊天还没有已保存的对话。",
    },
    "history_title": {
        "en": "Saved conversations ({page}/{pages}), newest first. Tap one to go back to it.",
        "vi": "Các cuộc trò chuyện đã lưu ({page}/{pages}), mới nhất trước. Chạm để quay lại.",
        "zh": "已保存的对话（{page}/{pages}），最新的在前。点按即可回到该对话。",
    },
    "history_item": {
        "en": "{title} · {date} · {messages} messages",
        "vi": "{title} · {date} · {messages} tin nhắn",
        "zh": "{title} · {date} · {messages} 条消息",
    },
    "history_current": {"en": "current", "vi": "hiện tại", "zh": "当前"},
    "history_untitled": {"en": "(no text)", "vi": "(không có chữ)", "zh": "（无文字）"},
    "history_newer": {"en": "‹ Newer", "vi": "‹ Mới hơn", "zh": "‹ 较新"},
    "history_older": {"en": "Older ›", "vi": "Cũ hơn ›", "zh": "较早 ›"},
    "history_resumed": {
        "en": "Back to “{title}”. The conversation you left is saved in /history.",
        "vi": "Đã quay lại “{title}”. Cuộc trò chuyện vừa rời được lưu trong /history.",
        "zh": "已回到“{title}”。刚才的对话保存在 /history 中。",
    },
    "history_gone": {
        "en": "That conversation no longer exists.",
        "vi": "Cuộc trò chuyện đó không còn nữa.",
        "zh": "该对话已不存在。",
    },
    "button_stale": {
        "en": "This button no longer works.",
        "vi": "Nút này không còn dùng được.",
        "zh": "此按钮已失效。",
    },
    "forget_confirm": {
        "en": (
            "This deletes everything I store for this chat: conversations, messages, pictures "
            "and other media, and its settings. It cannot be undone."
        ),
        "vi": (
            "Thao tác này xóa mọi thứ tôi lưu cho chat này: các cuộc trò chuyện, tin nhắn, "
            "hình ảnh và tệp khác, cùng các cài đặt. Không thể hoàn tác."
        ),
        "zh": "这将删除我为本聊天存储的所有内容：对话、消息、图片及其他媒体，以及设置。此操作无法撤销。",
    },
    "forget_yes": {"en": "Delete everything", "vi": "Xóa tất cả", "zh": "全部删除"},
    "forget_no": {"en": "Cancel", "vi": "Hủy", "zh": "取消"},
    "forget_done": {
        "en": (
            "Deleted: {conversations} conversations, {messages} messages, {settings} settings. "
            "Only usage counts (numbers, no text) are kept, for the daily limits."
        ),
        "vi": (
            "Đã xóa: {conversations} cuộc trò chuyện, {messages} tin nhắn, {settings} cài đặt. "
            "Chỉ giữ lại số liệu sử dụng (chỉ là con số, không có nội dung) cho giới hạn hằng ngày."
        ),
        "zh": (
            "已删除：{conversations} 个对话、{messages} 条消息、{settings} 项设置。"
            "仅保留用量计数（只有数字，没有内容），用于每日限额。"
        ),
    },
    "forget_cancelled": {
        "en": "Nothing was deleted.",
        "vi": "Không có gì bị xóa.",
        "zh": "没有删除任何内容。",
    },
    "system_custom": {
        "en": "This chat's instructions:\n\n{prompt}\n\n/system reset goes back to the default.",
        "vi": "Chỉ dẫn của chat này:\n\n{prompt}\n\n/system reset để quay về mặc định.",
        "zh": "本聊天的指令：\n\n{prompt}\n\n/system reset 恢复默认。",
    },
    "system_persona": {
        "en": "This chat uses the persona {name}:\n\n{prompt}",
        "vi": "Chat này dùng vai trò {name}:\n\n{prompt}",
        "zh": "本聊天使用角色 {name}：\n\n{prompt}",
    },
    "system_default": {
        "en": (
            "This chat uses the default instructions:\n\n{prompt}\n\n/system <text> sets its own."
        ),
        "vi": "Chat này dùng chỉ dẫn mặc định:\n\n{prompt}\n\n/system <nội dung> để đặt riêng.",
        "zh": "本聊天使用默认指令：\n\n{prompt}\n\n/system <内容> 可设置专属指令。",
    },
    "system_set": {
        "en": "Saved: I follow these instructions in this chat from the next message on.",
        "vi": "Đã lưu: từ tin nhắn tiếp theo tôi sẽ theo chỉ dẫn này trong chat này.",
        "zh": "已保存：从下一条消息起，我会在本聊天中遵循这些指令。",
    },
    "system_reset": {
        "en": "Back to the default instructions.",
        "vi": "Đã quay về chỉ dẫn mặc định.",
        "zh": "已恢复默认指令。",
    },
    "system_too_long": {
        "en": "Instructions can be at most {limit} characters.",
        "vi": "Chỉ dẫn dài tối đa {limit} ký tự.",
        "zh": "指令最多 {limit} 个字符。",
    },
    "persona_none": {
        "en": "No personas are configured for this bot.",
        "vi": "Bot này chưa cấu hình vai trò nào.",
        "zh": "此机器人未配置任何角色。",
    },
    "persona_choose": {
        "en": "Choose a persona for this chat (now: {current}).",
        "vi": "Chọn vai trò cho chat này (hiện tại: {current}).",
        "zh": "为本聊天选择角色（当前：{current}）。",
    },
    "persona_default": {"en": "default", "vi": "mặc định", "zh": "默认"},
    "persona_set": {
        "en": "Persona for this chat: {name}.",
        "vi": "Vai trò của chat này: {name}.",
        "zh": "本聊天的角色：{name}。",
    },
    "persona_set_model": {
        "en": "Persona for this chat: {name} (model {model}).",
        "vi": "Vai trò của chat này: {name} (mô hình {model}).",
        "zh": "本聊天的角色：{name}（模型 {model}）。",
    },
    "persona_unknown": {
        "en": "There is no persona called {name}. Choices: {names}.",
        "vi": "Không có vai trò nào tên {name}. Các lựa chọn: {names}.",
        "zh": "没有名为 {name} 的角色。可选：{names}。",
    },
    "usage_title": {"en": "Your usage", "vi": "Mức sử dụng của bạn", "zh": "你的用量"},
    "usage_today": {"en": "Today", "vi": "Hôm nay", "zh": "今天"},
    "usage_month": {"en": "This month", "vi": "Tháng này", "zh": "本月"},
    "usage_nothing": {"en": "nothing yet", "vi": "chưa có", "zh": "暂无"},
    "usage_line": {
        "en": "{model}: {messages} messages, {prompt} input + {completion} output tokens",
        "vi": "{model}: {messages} tin nhắn, {prompt} token vào + {completion} token ra",
        "zh": "{model}：{messages} 条消息，输入 {prompt} + 输出 {completion} 个 token",
    },
    "usage_cost": {"en": "≈ ${cost}", "vi": "≈ ${cost}", "zh": "≈ ${cost}"},
    "usage_limits": {
        "en": "Daily limits: {limits}. They reset at midnight ({zone}).",
        "vi": "Giới hạn hằng ngày: {limits}. Đặt lại lúc nửa đêm ({zone}).",
        "zh": "每日限额：{limits}。每天午夜（{zone}）重置。",
    },
    "usage_limit_messages": {
        "en": "{used}/{limit} messages",
        "vi": "{used}/{limit} tin nhắn",
        "zh": "{used}/{limit} 条消息",
    },
    "usage_limit_tokens": {
        "en": "{used}/{limit} tokens",
        "vi": "{used}/{limit} token",
        "zh": "{used}/{limit} 个 token",
    },
    "stats_admins_only": {
        "en": "Only the bot's admins can see /stats.",
        "vi": "Chỉ quản trị viên của bot mới xem được /stats.",
        "zh": "只有机器人管理员可以查看 /stats。",
    },
    "stats_text": {
        "en": (
            "Bot statistics\n"
            "Active users: {users_day} today, {users_month} this month\n"
            "Active chats: {chats_day} today, {chats_month} this month\n"
            "Turns in the last 24 h: {complete} complete, {interrupted} interrupted, "
            "{failed} failed\n"
            "Time to first visible text (24 h): p50 {p50}, p95 {p95}\n"
            "Tokens this month by model:\n{models}"
        ),
        "vi": (
            "Thống kê bot\n"
            "Người dùng hoạt động: {users_day} hôm nay, {users_month} tháng này\n"
            "Chat hoạt động: {chats_day} hôm nay, {chats_month} tháng này\n"
            "Lượt trong 24 giờ qua: {complete} hoàn tất, {interrupted} bị ngắt, "
            "{failed} thất bại\n"
            "Thời gian đến khi thấy chữ đầu tiên (24 giờ): p50 {p50}, p95 {p95}\n"
            "Token tháng này theo mô hình:\n{models}"
        ),
        "zh": (
            "机器人统计\n"
            "活跃用户：今天 {users_day}，本月 {users_month}\n"
            "活跃聊天：今天 {chats_day}，本月 {chats_month}\n"
            "过去 24 小时的轮次：完成 {complete}，中断 {interrupted}，失败 {failed}\n"
            "首个可见文字用时（24 小时）：p50 {p50}，p95 {p95}\n"
            "本月各模型 token：\n{models}"
        ),
    },
    "stats_model_line": {
        "en": "{model}: {prompt} input + {completion} output",
        "vi": "{model}: {prompt} vào + {completion} ra",
        "zh": "{model}：输入 {prompt} + 输出 {completion}",
    },
    "quota_messages": {
        "en": (
            "You have used today's {limit} messages. The limit resets at {time} ({zone}), "
            "in {hours} h {minutes} min."
        ),
        "vi": (
            "Bạn đã dùng hết {limit} tin nhắn của hôm nay. Giới hạn được đặt lại lúc {time} "
            "({zone}), sau {hours} giờ {minutes} phút."
        ),
        "zh": "你今天的 {limit} 条消息已用完。限额将于 {time}（{zone}）重置，还有 {hours} 小时 {minutes} 分钟。",
    },
    "quota_tokens": {
        "en": (
            "You have used today's {limit} tokens. The limit resets at {time} ({zone}), "
            "in {hours} h {minutes} min."
        ),
        "vi": (
            "Bạn đã dùng hết {limit} token của hôm nay. Giới hạn được đặt lại lúc {time} "
            "({zone}), sau {hours} giờ {minutes} phút."
        ),
        "zh": "你今天的 {limit} 个 token 已用完。限额将于 {time}（{zone}）重置，还有 {hours} 小时 {minutes} 分钟。",
    },
    "quota_group": {
        "en": (
            "This group has used today's {limit} messages. The limit resets at {time} ({zone}), "
            "in {hours} h {minutes} min."
        ),
        "vi": (
            "Nhóm này đã dùng hết {limit} tin nhắn của hôm nay. Giới hạn được đặt lại lúc {time} "
            "({zone}), sau {hours} giờ {minutes} phút."
        ),
        "zh": "本群今天的 {limit} 条消息已用完。限额将于 {time}（{zone}）重置，还有 {hours} 小时 {minutes} 分钟。",
    },
}


def pick_language(code: str | None, default: str = "en") -> str:
    """Map a Telegram language code (e.g. 'vi', 'zh-hans', 'en-US') to a supported language."""
    if code:
        base = code.lower().replace("_", "-").split("-")[0]
        if base in LANGUAGES:
            return base
    return default if default in LANGUAGES else "en"


def translate(lang: str, key: str, **params: object) -> str:
    """The string `key` in `lang` (English when missing), formatted with `params`."""
    variants = _STRINGS.get(key)
    if variants is None:
        variants = _STRINGS["error_unexpected"]
    template = variants.get(lang) or variants["en"]
    try:
        return template.format(**params)
    except (KeyError, IndexError):
        return template
