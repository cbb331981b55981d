'use strict';
// A third-party SMSC for tests/test_interop.py, built on node-smpp's server.
//
// Why: our own simulator shares our codec's assumptions; this one does not.
// It is deliberately plain node-smpp usage, as an operator's test SMSC would be.
//
//   node smsc.js PORT [RECEIPT_STYLE]
//
// PORT 0 picks a free port (the first line on stdout says which).
// RECEIPT_STYLE: "both" (TLVs and the appendix-B text, the default), "tlv" or "text".
//
// Accepts bind_transceiver for system_id "gateway" / password "secret" and
// refuses any other password with ESME_RINVPASWD (then closes). After the first
// successful bind it sends one MO ("JOIN" from 15555550123 to 12345). Every
// submit_sm gets a message id, then a delivery receipt for it. Each event is
// one JSON line on stdout.

const smpp = require('smpp');

const SYSTEM_ID = 'gateway';
const PASSWORD = 'secret';
const MO = { from: '15555550123', to: '12345', text: 'JOIN' };

const port = Number(process.argv[2] || 0);
const receiptStyle = process.argv[3] || 'both';
if (!['both', 'tlv', 'text'].includes(receiptStyle)) {
  process.stderr.write(`unknown receipt style ${receiptStyle}\n`);
  process.exit(2);
}

let moSent = false;
let nextMessageId = 0x5a3c0000;

function emit(event, fields) {
  process.stdout.write(JSON.stringify({ event, ...fields }) + '\n');
}

function smppDate(date) {
  const two = (n) => String(n).padStart(2, '0');
  return (
    two(date.getUTCFullYear() % 100) + two(date.getUTCMonth() + 1) + two(date.getUTCDate()) +
    two(date.getUTCHours()) + two(date.getUTCMinutes())
  );
}

function sendMo(session) {
  session.deliver_sm(
    {
      source_addr_ton: smpp.TON.INTERNATIONAL,
      source_addr_npi: smpp.NPI.ISDN,
      source_addr: MO.from,
      dest_addr_ton: smpp.TON.NETWORK_SPECIFIC,
      destination_addr: MO.to,
      short_message: MO.text,
    },
    (resp) => emit('mo_acked', { command_status: resp.command_status }),
  );
}

function sendReceipt(session, submit, messageId, submittedAt) {
  const fields = {
    source_addr_ton: submit.dest_addr_ton,
    source_addr_npi: submit.dest_addr_npi,
    source_addr: submit.destination_addr,
    destination_addr: submit.source_addr,
    esm_class: smpp.ESM_CLASS.MC_DELIVERY_RECEIPT,
    short_message: Buffer.alloc(0),
  };
  if (receiptStyle !== 'text') {
    fields.receipted_message_id = messageId;
    fields.message_state = smpp.MESSAGE_STATE.DELIVERED;
  }
  if (receiptStyle !== 'tlv') {
    const stamp = smppDate(submittedAt);
    fields.short_message =
      `id:${messageId} sub:001 dlvrd:001 submit date:${stamp} done date:${smppDate(new Date())} ` +
      `stat:DELIVRD err:000 text:`;
  }
  session.deliver_sm(fields, (resp) =>
    emit('receipt_acked', { message_id: messageId, command_status: resp.command_status }),
  );
}

function onBind(session, pdu) {
  if (pdu.password !== PASSWORD || pdu.system_id !== SYSTEM_ID) {
    const status = pdu.system_id === SYSTEM_ID ? smpp.ESME_RINVPASWD : smpp.ESME_RINVSYSID;
    emit('bind_refused', { command: pdu.command, system_id: pdu.system_id, command_status: status });
    session.send(pdu.response({ command_status: status }), () => session.close());
    return;
  }
  session.send(pdu.response({ system_id: 'node-smpp' }));
  emit('bound', { command: pdu.command, system_id: pdu.system_id });
  if (!moSent) {
    moSent = true;
    sendMo(session);
  }
}

function onSubmit(session, pdu) {
  const messageId = (nextMessageId++).toString(16);
  const submittedAt = new Date();
  const message = pdu.short_message || {};
  emit('submit', {
    source: pdu.source_addr,
    source_addr_ton: pdu.source_addr_ton,
    destination: pdu.destination_addr,
    dest_addr_ton: pdu.dest_addr_ton,
    dest_addr_npi: pdu.dest_addr_npi,
    data_coding: pdu.data_coding,
    esm_class: pdu.esm_class,
    registered_delivery: pdu.registered_delivery,
    udh: (message.udh || []).map((part) => part.toString('hex')),
    text: typeof message.message === 'string' ? message.message : null,
    message_id: messageId,
  });
  session.send(pdu.response({ message_id: messageId }), () =>
    sendReceipt(session, pdu, messageId, submittedAt),
  );
}

const server = smpp.createServer((session) => {
  session.on('bind_transceiver', (pdu) => onBind(session, pdu));
  session.on('bind_transmitter', (pdu) => onBind(session, pdu));
  session.on('bind_receiver', (pdu) => onBind(session, pdu));
  session.on('submit_sm', (pdu) => onSubmit(session, pdu));
  session.on('enquire_link', (pdu) => {
    emit('enquire_link', {});
    session.send(pdu.response());
  });
  session.on('unbind', (pdu) => {
    emit('unbound', {});
    session.send(pdu.response(), () => session.close());
  });
  session.on('unknown', (pdu) => {
    emit('unknown_pdu', { command_id: pdu.command_id });
    session.send(pdu.response());
  });
  session.on('error', (err) => emit('session_error', { message: String(err && err.message) }));
});

server.listen(port, '127.0.0.1', () => emit('listening', { port: server.address().port }));
process.on('SIGTERM', () => process.exit(0));
